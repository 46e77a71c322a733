"""Follow-up conversations over the many-places dev corpus: R@1 of each turn, and new topics wrongly glued.

The dialogues (tests/data/multi/dialogues.jsonl) were written for this: a question, then “那X呢？” for another
place, “第二条”“还有吗” inside the article shown, or a new question that must start afresh. Each turn goes
through `bot.retrieval.rewrite.respond`, the function both channels call, with the thread the turn before left.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.corpora import MULTI, ROOT, WORK, multi_corpus
from bot.model.encoder import load_encoder
from bot.retrieval import rewrite
from bot.retrieval.dialogues import format_report, load_dialogues, run, summarize
from bot.retrieval.index_files import current_path
from bot.retrieval.indexer import build_index
from bot.retrieval.search import Searcher, SearchIndex

DIALOGUES = MULTI / "dialogues.jsonl"
RESULT = WORK / "dialogues.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", default=str(DIALOGUES), help="对话文件（jsonl）")
    args = parser.parse_args()
    encoder = load_encoder("multilingual-e5-small", ROOT / "models")
    index = WORK / "multi" / "index"
    if current_path(index) is None:  # benchmarks.quality builds it; build it here only when it is missing
        build_index(multi_corpus(), index, encoder, progress=True)
    searcher = Searcher(SearchIndex.load(index), encoder)
    dialogues = load_dialogues(Path(args.file))
    started = time.perf_counter()
    outcomes = run(dialogues, lambda question, thread: rewrite.respond(question, thread, searcher))
    seconds = time.perf_counter() - started
    metrics = summarize(outcomes)
    metrics["ms_per_turn"] = round(1000 * seconds / max(len(outcomes), 1), 1)
    print(format_report(metrics))
    print(f"平均每轮 {metrics['ms_per_turn']} ms")
    RESULT.write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
