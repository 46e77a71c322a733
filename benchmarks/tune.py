"""Fit BM25 parameters, fusion and refusal weights on the dev questions (qa.jsonl); report the held-out round 3 apart.

python benchmarks/tune.py   (needs the benchmark indexes that benchmarks/quality.py builds)
The printed BM25_PARAMS are what bot/indexer.py builds with; the printed Tuning(...) is what bot/search.py
carries as its defaults.
"""

from __future__ import annotations

import functools
import itertools
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import ROOT, ROUND3_QA, SEED_QA, WORK, split_of

from bot.model.encoder import load_encoder
from bot.retrieval.evaluate import first_hit_rank, load_questions
from bot.retrieval.indexer import BM25_PARAMS, keyword_index, keyword_tokens
from bot.retrieval.search import Searcher, SearchIndex, Tuning

OPEN = Tuning(bias=99.0)


def rows_for(searcher: Searcher, questions, tuning: Tuning, mode: str = "hybrid") -> list[dict]:
    searcher.tuning = tuning
    rows = []
    for q in questions:
        result = searcher.search(q.question, k=10, mode=mode)
        rows.append(
            {
                "id": q.id,
                "answerable": bool(q.gold),
                "rank": first_hit_rank(result, q.gold) if q.gold else None,
                "evidence": result.evidence,
            }
        )
    return rows


def r1_mrr(rows: list[dict]) -> tuple[float, float]:
    ranks = [r["rank"] for r in rows if r["answerable"]]
    n = max(len(ranks), 1)
    return sum(r == 1 for r in ranks) / n, sum(1 / r for r in ranks if r) / n


def main() -> None:
    encoder = load_encoder("multilingual-e5-small", ROOT / "models")
    encoder.encode_query = functools.lru_cache(maxsize=None)(encoder.encode_query)
    sets = {"seed": WORK / "seed" / "index", "seed+laws10k": WORK / "seed_laws10k" / "index"}
    splits = split_of(SEED_QA) | split_of(ROUND3_QA)
    questions = load_questions(SEED_QA) + load_questions(ROUND3_QA)
    dev = [q for q in questions if splits[q.id] == "dev"]
    searchers = {name: Searcher(SearchIndex.load(path), encoder) for name, path in sets.items()}
    fit_bm25(searchers, dev)
    best = None
    # only weight ratios matter for ranking, so BM25's weight stays fixed; ties go to the better MRR
    grid = itertools.product((0.2, 0.4, 0.6, 0.8, 1.0), (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2), (0.0, 0.5, 1.0, 1.5, 2.0))
    for d, sent, chars in grid:
        tuning = replace(OPEN, bm25=0.6, dense=d, sentence=sent, chars=chars)
        score = tuple(map(sum, zip(*(r1_mrr(rows_for(s, dev, tuning)) for s in searchers.values()))))
        if best is None or score > best[0]:
            best = (score, tuning)
            print(
                f"fusion dense={d} sentence={sent} chars={chars}: dev R@1 sum {score[0]:.3f}, MRR sum {score[1]:.3f}",
                flush=True,
            )
    fit_refusal(searchers, questions, splits, best[1])


def fit_bm25(searchers: dict[str, Searcher], dev) -> None:
    """The keyword leg alone, per k1 and b: short newspaper paragraphs and long statutes want little length norm."""
    tokens = {name: keyword_tokens(s.index.passages, s.index.segmenter) for name, s in searchers.items()}
    built = {}
    best = None
    for k1, b in itertools.product((0.9, 1.2, 1.5, 2.0), (0.4, 0.6, 0.75, 0.9)):
        score = (0.0, 0.0)
        for name, searcher in searchers.items():
            searcher.index.bm25 = keyword_index(tokens[name], k1=k1, b=b)
            score = tuple(a + c for a, c in zip(score, r1_mrr(rows_for(searcher, dev, OPEN, mode="bm25"))))
        print(f"bm25 k1={k1} b={b}: dev R@1 sum {score[0]:.3f}, MRR sum {score[1]:.3f}", flush=True)
        if best is None or score > best[0]:
            best = (score, k1, b)
            built = {name: s.index.bm25 for name, s in searchers.items()}
    _, k1, b = best
    print(f"BM25_PARAMS = {{'k1': {k1}, 'b': {b}}}  (bot/indexer.py has {BM25_PARAMS})", flush=True)
    for name, searcher in searchers.items():
        searcher.index.bm25 = built[name]


FEATURE_SETS = (
    ("coverage", "char_coverage", "dense_z"),
    ("char_coverage", "dense_z"),
    ("char_coverage", "sentence_cos"),
    ("coverage", "char_coverage", "sentence_cos"),
    ("coverage", "char_coverage", "dense_z", "sentence_cos"),
)


def fit_refusal(searchers: dict[str, Searcher], questions, splits: dict[str, str], tuning: Tuning) -> None:
    """Per feature set: a logistic fit on dev, cut where ≥ 98 % of answerable dev questions still pass.

    The set that refuses the most dev outside questions wins; ties go to fewer answerable ones refused, then to
    fewer features.
    """
    from sklearn.linear_model import LogisticRegression

    rows = [
        dict(r, split=splits[r["id"]], index=name)
        for name, s in searchers.items()
        for r in rows_for(s, questions, tuning)
    ]
    rows = [r for r in rows if r["evidence"].type_found]  # the answer-type rule refuses those on its own
    best = None
    for features in FEATURE_SETS:
        x = np.array([[getattr(r["evidence"], f) for f in features] for r in rows])
        y = np.array([r["answerable"] for r in rows])
        dev = np.array([r["split"] == "dev" for r in rows])
        model = LogisticRegression(class_weight={True: 1.0, False: 3.0}, C=10.0, max_iter=1000).fit(x[dev], y[dev])
        margins = x @ model.coef_[0] + model.intercept_[0]
        cut = float(np.quantile(margins[dev & y], 0.02)) - 1e-6
        refused = margins < cut
        parts = []
        for part in ("dev", "heldout"):
            chosen = np.array([r["split"] == part for r in rows])
            parts.append(
                f"{part} out {int((refused & chosen & ~y).sum())}/{int((chosen & ~y).sum())} "
                f"in {int((refused & chosen & y).sum())}/{int((chosen & y).sum())}"
            )
        print(f"refusal {features}: {' | '.join(parts)}  (both indexes)")
        score = (int((refused & dev & ~y).sum()), -int((refused & dev & y).sum()), -len(features))
        if best is None or score > best[0]:
            best = (score, features, model.coef_[0], model.intercept_[0] - cut)
    _, features, weights, bias = best
    print(
        f"Tuning(bm25={tuning.bm25}, dense={tuning.dense}, sentence={tuning.sentence}, chars={tuning.chars}, "
        f"refusal_features={features}, "
        f"refusal_weights={tuple(round(float(w), 3) for w in weights)}, bias={bias:.3f})"
    )


if __name__ == "__main__":
    main()
