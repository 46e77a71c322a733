"""How many days of daily quizzes an index yields, and why the other excerpts get none.

Walks one whole round of the daily rotation (every substantive passage, newest articles first, as the bot
sends them) and makes each excerpt's quiz; nothing is sent. Reads the index read-only: by default the
many-places dev index that `python -m benchmarks.quality` builds, and the seed index beside it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from benchmarks.corpora import WORK
from bot.chat.daily import rotation
from bot.retrieval.quiz import Bank, Quiz, make_quiz
from bot.retrieval.search import SearchIndex

INDEXES = {"seed": WORK / "seed" / "index", "multi": WORK / "multi" / "index"}


def measure(index_dir: Path) -> dict:
    passages = SearchIndex.load(index_dir).passages
    started = time.perf_counter()
    bank = Bank.of(passages)
    excerpts = rotation(passages)
    outcomes = [make_quiz(p, bank) for p in excerpts]
    seconds = time.perf_counter() - started
    quizzes = [q for q in outcomes if isinstance(q, Quiz)]
    by_id = {p.passage_id: p for p in excerpts}
    single = sum(q.stated(by_id[q.passage_id].text) == [q.correct] for q in quizzes)
    return {
        "passages": len(passages),
        "excerpts": len(excerpts),
        "quizzes": len(quizzes),
        "single_stated_option": single,  # quizzes whose excerpt states exactly one option, the right one
        "by_kind": dict(Counter(str(q.kind) for q in quizzes)),
        "options": dict(Counter(len(q.options) for q in quizzes)),
        "rejected": dict(Counter(str(o) for o in outcomes if not isinstance(o, Quiz))),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, action="append", help="index folder(s); default: seed and multi")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    targets = {str(p): p for p in args.index} if args.index else INDEXES
    results = {}
    for name, path in targets.items():
        if not (path / "current").exists():
            print(f"{name}: no index at {path} (python -m benchmarks.quality builds it)")
            continue
        results[name] = measure(path)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    for name, r in results.items():
        print(
            f"{name}: {r['excerpts']} excerpts → {r['quizzes']} days of quizzes {r['by_kind']} "
            f"({r['single_stated_option']} with exactly one option the excerpt states), "
            f"options {r['options']}; no quiz {r['rejected']}; {r['seconds']} s"
        )


if __name__ == "__main__":
    main()
