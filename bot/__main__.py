"""The one command line: `python -m bot {search,eval,build,model,console,run,telegram}`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.settings import get_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="partybot", description="党建问答")
    sub = parser.add_subparsers(dest="command")
    search = sub.add_parser("search", help="检索段落")
    search.add_argument("question")
    search.add_argument("--index", type=Path)
    search.add_argument("-k", type=int, default=5)
    search.add_argument("--json", action="store_true")
    ev = sub.add_parser("eval", help="评测检索质量")
    ev.add_argument("file", type=Path, nargs="+")
    ev.add_argument("--index", type=Path)
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--mode", choices=("hybrid", "bm25", "dense"), default="hybrid")
    ev.add_argument("--by-kind", action="store_true", help="按问题类型（事实/做法/列举/库外）分别统计")
    build = sub.add_parser("build", help="构建索引")
    build.add_argument("--corpus", type=Path)
    build.add_argument("--index", type=Path)
    build.add_argument("--if-stale", action="store_true", help="索引已是最新时跳过")
    model = sub.add_parser("model", help="准备离线向量模型（models/ 下）")
    model.add_argument("--models-dir", type=Path)
    model.add_argument("--force", action="store_true", help="即使已完整也重新生成")
    sub.add_parser("console", help="终端问答")
    sub.add_parser("telegram", help="启动 Telegram 机器人")
    sub.add_parser("run", help="有 TELEGRAM_BOT_TOKEN 时启动机器人，否则终端问答")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    settings = get_settings()
    if args.command in ("search", "eval"):
        from bot.retrieval.index_files import IndexMissing

        try:
            return _search(settings, args) if args.command == "search" else _eval(settings, args)
        except IndexMissing as exc:
            print(exc, file=sys.stderr)
            return 1
    if args.command == "build":
        return build_command(settings, args.corpus, args.index, args.if_stale)
    if args.command == "model":
        from bot.model.provision import run

        return run(args.models_dir or settings.models_dir, force=args.force)
    if args.command in ("console", "run", "telegram"):
        return _chat(settings, args.command)
    _parser().print_help()
    return 2


def _search(settings, args) -> int:
    from bot.engine import open_searcher
    from bot.retrieval.answer import answer

    result = answer(args.question, open_searcher(settings, args.index), k=args.k)
    if args.json:
        payload = {
            "question": args.question,
            "abstained": result.abstained,
            "results": [h.to_dict() for h in result.hits],
            **result.to_dict(),
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        if result.abstained:
            print("资料中没有找到与该问题相关的内容。")
        else:
            print("答：" + "".join(result.sentences) + f"\n出处：{result.citation}\n")
        for rank, hit in enumerate(result.hits, start=1):
            print(f"{rank}. [{hit.score:.4f}] {hit.passage.title}（{hit.passage.place}）\n   {hit.passage.text}")
    return 0


def _eval(settings, args) -> int:
    from bot.engine import open_searcher
    from bot.retrieval.answer import answer
    from bot.retrieval.evaluate import evaluate, format_report, load_questions

    searcher = open_searcher(settings, args.index)
    metrics = evaluate(
        [q for path in args.file for q in load_questions(path)],
        lambda q: answer(q, searcher, k=10, mode=args.mode),
        by_kind=args.by_kind,
    )
    print(json.dumps(metrics, ensure_ascii=False) if args.json else format_report(metrics))
    return 0


def build_command(settings, corpus: Path | None, index: Path | None, if_stale: bool) -> int:
    from bot.engine import open_encoder
    from bot.model.encoder import resolve_model, vector_fingerprint
    from bot.retrieval.indexer import build_index, is_stale

    corpus, index = corpus or settings.corpus_dir, index or settings.index_dir
    model = resolve_model(settings.embed_model, settings.models_dir)  # fingerprint only: no model load when fresh
    fingerprint = vector_fingerprint(model, settings.embed_variant) if model else None
    if if_stale and not is_stale(corpus, index, fingerprint):
        print(f"索引已是最新：{index}")
        return 0
    encoder = open_encoder(settings)
    report = build_index(corpus, index, encoder, progress=True, ann_threshold=settings.ann_threshold)
    for error in report.errors:
        print(f"跳过文件 {error}", file=sys.stderr)
    print(
        f"索引完成：{report.articles} 篇文章、{report.captions} 条图片说明，{report.passages} 个段落（新增 {report.added}，移除 {report.removed}），"
        f"编码 {report.encoded}，缓存命中 {report.cached}，用时 {report.seconds} 秒"
        + ("" if report.dense else "；未加载向量模型，仅关键词检索")
    )
    return 0


def _chat(settings, command: str) -> int:
    if command == "telegram" or (command == "run" and settings.telegram_bot_token):
        from bot.chat.telegram_app import run_bot

        return run_bot(settings)
    from bot.chat.console import run_console

    return run_console(settings)


if __name__ == "__main__":
    sys.exit(main())
