"""Fit fusion and refusal weights on the dev questions; report dev and held-out separately.

python benchmarks/tune.py   (needs the benchmark indexes that benchmarks/quality.py builds)
The printed Tuning(...) is what bot/search.py carries as its defaults.
"""
from __future__ import annotations

import functools
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import ROOT, SEED_QA, WORK  # noqa: E402

from bot.embed import load_encoder  # noqa: E402
from bot.evaluate import first_hit_rank, load_questions  # noqa: E402
from bot.search import SearchIndex, Searcher, Tuning  # noqa: E402

OPEN = Tuning(bias=99.0)


def split_of(qa: Path) -> dict[str, str]:
    return {row["id"]: row.get("split", "dev") for row in map(json.loads, qa.read_text(encoding="utf-8").splitlines())}


def rows_for(searcher: Searcher, questions, tuning: Tuning) -> list[dict]:
    searcher.tuning = tuning
    rows = []
    for q in questions:
        result = searcher.search(q.question, k=10)
        e = result.evidence
        rows.append({"id": q.id, "answerable": bool(q.gold), "rank": first_hit_rank(result, q.gold) if q.gold else None,
                     "features": [e.coverage, e.char_coverage, e.dense_z, e.sentence_z]})
    return rows


def r1_mrr(rows: list[dict]) -> tuple[float, float]:
    ranks = [r["rank"] for r in rows if r["answerable"]]
    n = max(len(ranks), 1)
    return sum(r == 1 for r in ranks) / n, sum(1 / r for r in ranks if r) / n


def main() -> None:
    encoder = load_encoder("multilingual-e5-small", ROOT / "models")
    encoder.encode_query = functools.lru_cache(maxsize=None)(encoder.encode_query)
    sets = {"seed": WORK / "seed" / "index", "seed+laws10k": WORK / "seed_laws10k" / "index"}
    splits = split_of(SEED_QA)
    questions = load_questions(SEED_QA)
    dev = [q for q in questions if splits[q.id] == "dev"]
    searchers = {name: Searcher(SearchIndex.load(path), encoder) for name, path in sets.items()}
    best = None
    # only weight ratios matter for ranking, so BM25's weight stays fixed; ties go to the better MRR
    grid = itertools.product((0.4, 0.6, 0.8, 1.0, 1.3), (0.0, 0.2, 0.4, 0.6, 0.8), (0.0, 0.1, 0.2, 0.3))
    for d, sent, at in grid:
        tuning = replace(OPEN, bm25=0.6, dense=d, sentence=sent, answer_type=at)
        score = tuple(map(sum, zip(*(r1_mrr(rows_for(s, dev, tuning)) for s in searchers.values()))))
        if best is None or score > best[0]:
            best = (score, tuning)
            print(f"fusion dense={d} sentence={sent} answer_type={at}: dev R@1 sum {score[0]:.3f}, MRR sum "
                  f"{score[1]:.3f}", flush=True)
    tuning = best[1]
    fit_refusal(searchers, dev, tuning)


def fit_refusal(searchers: dict[str, Searcher], dev, tuning: Tuning) -> None:
    from sklearn.linear_model import LogisticRegression

    rows = [r for s in searchers.values() for r in rows_for(s, dev, tuning)]
    x = np.array([r["features"] for r in rows])
    y = np.array([r["answerable"] for r in rows])
    model = LogisticRegression(class_weight={True: 1.0, False: 3.0}, C=10.0).fit(x, y)
    weights, bias = model.coef_[0], model.intercept_[0]
    margins = x @ weights + bias
    # refuse below the largest threshold that still answers ≥ 98 % of answerable dev questions
    cut = float(np.quantile(margins[y], 0.02)) - 1e-6
    print(f"refusal weights coverage={weights[0]:.3f} chars={weights[1]:.3f} dense_z={weights[2]:.3f} "
          f"sentence_z={weights[3]:.3f} bias={bias - cut:.3f}")


if __name__ == "__main__":
    main()
