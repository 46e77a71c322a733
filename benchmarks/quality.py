"""Answer quality of BM25 alone, dense alone and the hybrid, side by side in one run, plus answer() latency.

One run, one box state: the legs and the fusion are compared on the same indexes, so a difference between
them is the method's. The seed's dev questions are what benchmarks.tune fits on, round 3 was written later and
is only ever reported; law distractors show whether the seed's answers survive a crowd of policy language,
and CMRC 2018 (passage level) whether the method carries over to text it was never tuned on.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.corpora import (
    CMRC,
    LAWS,
    MULTI_HELDOUT,
    ROOT,
    ROUND3_QA,
    SEED_QA,
    WORK,
    cmrc_corpus,
    distractor_corpus,
    missing,
    multi_corpus,
    multi_questions,
    seed_corpus,
)
from benchmarks.timing import time_calls
from bot.model.encoder import load_encoder
from bot.retrieval.answer import answer
from bot.retrieval.evaluate import Question, evaluate, format_report, load_questions
from bot.retrieval.indexer import build_index, is_stale
from bot.retrieval.search import MODES, Searcher, SearchIndex
from bot.retrieval.sentences import squash


def plain_bm25(index: SearchIndex, questions: list[Question]) -> dict:
    """The floor: jieba cut_for_search + bm25s over the bare passage text, no dictionary, no stopwords."""
    import bm25s
    import jieba

    texts = [p.text for p in index.passages]
    tokenize = lambda t: [w for w in jieba.cut_for_search(t) if w.strip()]  # noqa: E731
    retriever = bm25s.BM25()
    retriever.index([tokenize(t) or ["∅"] for t in texts], show_progress=False)
    answerable = [q for q in questions if q.gold]
    r1 = r5 = 0
    for q in answerable:
        tokens = [t for t in tokenize(q.question) if t in retriever.vocab_dict]
        if not tokens:
            continue
        order = np.argsort(-retriever.get_scores(tokens))[:5]
        ranks = [r for r, d in enumerate(order) if any(squash(g) in squash(texts[d]) for g in q.gold)]
        r1 += bool(ranks) and ranks[0] == 0
        r5 += bool(ranks)
    n = max(len(answerable), 1)
    return {"r1": round(r1 / n, 4), "r5": round(r5 / n, 4)}


def article_level_r1(searcher: Searcher, questions: list[Question]) -> float:
    """CMRC's own unit is the whole passage: a hit is the top result coming from the gold's article."""
    texts: dict[str, str] = {}
    for p in searcher.index.passages:
        texts[p.article_id] = texts.get(p.article_id, "") + p.text
    hits = 0
    answerable = [q for q in questions if q.gold]
    for q in answerable:
        result = answer(q.question, searcher, k=1)
        hits += bool(result.hits) and squash(q.gold[0]) in squash(texts[result.hits[0].passage.article_id])
    return round(hits / max(len(answerable), 1), 4)


def ensure_index(corpus: Path, encoder) -> Path:
    index = corpus.parent / "index"
    if is_stale(corpus, index, encoder.fingerprint):
        print(f"构建索引 {index} …", flush=True)
        build_index(corpus, index, encoder, progress=True)
    return index


def report(name: str, searcher: Searcher, questions: list[Question], by_kind: bool = False) -> dict[str, dict]:
    """Refusals count as misses; “open” R@1 is the same ranking with the score-based refusal switched off."""
    rows = {"plain": plain_bm25(searcher.index, questions)}
    print(f"{name:24s} plain   R@1={rows['plain']['r1']:.3f} R@5={rows['plain']['r5']:.3f}  (jieba+BM25, bare text)")
    unrefused = Searcher(searcher.index, searcher.encoder, replace(searcher.tuning, bias=1e9))
    for mode in MODES:
        rows[mode] = evaluate(questions, lambda q, m=mode: answer(q, searcher, k=10, mode=m), by_kind=by_kind)
        rows[mode]["open_r1"] = evaluate(questions, lambda q, m=mode: answer(q, unrefused, k=10, mode=m))["r1"]
        m = rows[mode]
        print(
            f"{name:24s} {mode:7s} n={m['n']:4d} R@1={m['r1']:.3f} R@5={m['r5']:.3f} MRR@10={m['mrr10']:.3f} "
            f"answer@1={m['answer1']:.3f} shown={m['shown']:.3f} refused out={m['refused_right']}/{m['out_of_corpus']} "
            f"in={m['refused_wrong']}/{m['answerable']}  open R@1={m['open_r1']:.3f}",
            flush=True,
        )
        if by_kind and mode == "hybrid":
            print("\n".join(format_report(m).splitlines()[2:]), flush=True)
    return rows


def seed_splits() -> dict[str, list[Question]]:
    """qa.jsonl is what benchmarks.tune fits on; round 3 was written later and is only ever reported."""
    parts = {"dev": load_questions(SEED_QA)}
    if ROUND3_QA.exists():
        parts["heldout"] = load_questions(ROUND3_QA)
    return parts


def latency(searcher: Searcher, questions: list[Question], label: str, rounds: int = 3) -> dict:
    timing = time_calls(lambda q: answer(q.question, searcher), questions, rounds=rounds, warmup=5)
    passages = len(searcher.index.passages)
    print(
        f"answer() latency {label}: {passages} passages, p50={timing.p50_ms:.1f} ms p95={timing.p95_ms:.1f} ms "
        f"({timing.calls} calls)",
        flush=True,
    )
    return {"passages": passages, **timing.summary()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cmrc", action="store_true", help="no CMRC 2018 (its first index build is long)")
    parser.add_argument("--latency-index", type=Path, help="extra index to time answer() on (e.g. 60k passages)")
    args = parser.parse_args()
    encoder = load_encoder("multilingual-e5-small", ROOT / "models")
    results: dict = {}
    seed = Searcher(SearchIndex.load(ensure_index(seed_corpus(), encoder)), encoder)
    for part, questions in seed_splits().items():
        results[f"seed/{part}"] = report(f"seed/{part}", seed, questions)
    results["latency_seed"] = latency(seed, load_questions(SEED_QA), "seed")
    multi = Searcher(SearchIndex.load(ensure_index(multi_corpus(), encoder)), encoder)
    results["multi/dev"] = report("multi/dev", multi, [q for p in multi_questions() for q in load_questions(p)], True)
    results["multi/heldout"] = report("multi/heldout", multi, load_questions(MULTI_HELDOUT), True)
    for part, questions in seed_splits().items():
        results[f"seed+multi/{part}"] = report(f"seed+multi/{part}", multi, questions)
    if not missing(LAWS):
        mixed = Searcher(SearchIndex.load(ensure_index(distractor_corpus(10_000), encoder)), encoder)
        for part, questions in seed_splits().items():
            results[f"seed+laws10k/{part}"] = report(f"seed+laws10k/{part}", mixed, questions)
        results["latency_10k"] = latency(mixed, load_questions(SEED_QA), "seed+laws10k")
    if not args.skip_cmrc and not missing(CMRC):
        corpus, qa = cmrc_corpus()
        cmrc = Searcher(SearchIndex.load(ensure_index(corpus, encoder)), encoder)
        results["cmrc"] = report("cmrc2018-trial", cmrc, load_questions(qa))
        results["cmrc"]["hybrid"]["article_r1"] = article_level_r1(cmrc, load_questions(qa))
        print(f"cmrc2018-trial hybrid, CMRC passage (article) level: R@1={results['cmrc']['hybrid']['article_r1']:.3f}")
    if args.latency_index:
        big = Searcher(SearchIndex.load(args.latency_index), encoder)
        results["latency_big"] = latency(big, load_questions(SEED_QA), str(args.latency_index))
    (WORK / "quality.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"结果已写入 {WORK / 'quality.json'}")


if __name__ == "__main__":
    main()
