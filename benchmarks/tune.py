"""Fit BM25's k1 and b, the fusion weights and the refusal rule on the dev questions; report held-out sets apart.

Weights come from a fit, not from hand edits, so that a change to retrieval is followed by a refit whose
numbers can be traced to questions. `--write` stores the result in the FITTED block of
bot/retrieval/tuning.py (the rest of that file stays as it is); without it the block is only printed.
keyword_only_min_chars and sentence_dense are not fitted here and pass through unchanged. Fitting needs the
benchmark indexes that benchmarks.quality builds. An index keeps the k1 and b it was built with: the
staleness check does not look at them, so new ones take effect after a rebuild. The ranking weights are fitted
on the seed's questions; the refusal rule also on the many-places dev questions over their own corpus, since
there most outside questions name a practice or figure the corpus lacks, not a topic far from it.
"""

from __future__ import annotations

import argparse
import functools
import itertools
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from benchmarks.corpora import MULTI_HELDOUT, ROOT, ROUND3_QA, SEED_QA, WORK, multi_questions, split_of
from bot.retrieval.evaluate import first_hit_rank, load_questions
from bot.retrieval.indexer import keyword_index, keyword_tokens
from bot.retrieval.search import Searcher, SearchIndex
from bot.retrieval.tuning import FITTED, Tuning

TUNING_FILE = ROOT / "bot" / "retrieval" / "tuning.py"
BEGIN = "# --- FITTED:"
END = "# --- end FITTED ---"
# refusal off (bar the answer-type rule): the fits below rank and score every question
OPEN = replace(FITTED, bias=99.0)
INDEXES = {"seed": WORK / "seed" / "index", "seed+laws10k": WORK / "seed_laws10k" / "index"}
MULTI_INDEX = WORK / "multi" / "index"


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
                # refused by a rule whatever the score: the place is absent, or its articles do not answer it
                "ruled": bool(result.absent or result.unanswered),
            }
        )
    return rows


def r1_mrr(rows: list[dict]) -> tuple[float, float]:
    ranks = [r["rank"] for r in rows if r["answerable"]]
    n = max(len(ranks), 1)
    return sum(r == 1 for r in ranks) / n, sum(1 / r for r in ranks if r) / n


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tune", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help=f"rewrite the FITTED block of {TUNING_FILE.relative_to(ROOT)}"
    )
    parser.add_argument(
        "--refusal-only", action="store_true", help="keep BM25 and fusion weights, refit only the refusal rule"
    )
    args = parser.parse_args()
    absent = [str(path) for path in (*INDEXES.values(), MULTI_INDEX) if not path.exists()]
    if absent:
        print(f"缺少基准索引：{', '.join(absent)}（请先运行 python -m benchmarks.quality）")
        raise SystemExit(1)
    from bot.model.encoder import load_encoder  # after the check: loading the model is the slow part of a no-op

    encoder = load_encoder("multilingual-e5-small", ROOT / "models")
    encoder.encode_query = functools.lru_cache(maxsize=None)(encoder.encode_query)
    splits = split_of(SEED_QA) | split_of(ROUND3_QA)
    questions = load_questions(SEED_QA) + load_questions(ROUND3_QA)
    dev = [q for q in questions if splits[q.id] == "dev"]
    searchers = {name: Searcher(SearchIndex.load(path), encoder) for name, path in INDEXES.items()}
    multi = [q for path in multi_questions() for q in load_questions(path)]
    multi_heldout = load_questions(MULTI_HELDOUT) if MULTI_HELDOUT.exists() else []
    splits |= {q.id: "dev" for q in multi} | {q.id: "heldout" for q in multi_heldout}
    refusal_sets = [(s, questions) for s in searchers.values()]
    refusal_sets.append((Searcher(SearchIndex.load(MULTI_INDEX), encoder), questions + multi + multi_heldout))
    if args.refusal_only:
        fitted = fit_refusal(refusal_sets, splits, OPEN)
        print(render_fitted(fitted))
        if args.write:
            write_fitted(TUNING_FILE, render_fitted(fitted))
            print(f"已写入 {TUNING_FILE}")
        return
    k1, b = fit_bm25(searchers, dev)
    best = None
    # only weight ratios matter for ranking, so BM25's weight stays fixed; ties go to the better MRR
    grid = itertools.product((0.2, 0.4, 0.6, 0.8, 1.0), (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2), (0.0, 0.5, 1.0, 1.5, 2.0))
    for d, sent, chars in grid:
        tuning = replace(OPEN, bm25_k1=k1, bm25_b=b, bm25=0.6, dense=d, sentence=sent, chars=chars)
        score = tuple(map(sum, zip(*(r1_mrr(rows_for(s, dev, tuning)) for s in searchers.values()))))
        if best is None or score > best[0]:
            best = (score, tuning)
            print(
                f"fusion dense={d} sentence={sent} chars={chars}: dev R@1 sum {score[0]:.3f}, MRR sum {score[1]:.3f}",
                flush=True,
            )
    fitted = fit_refusal(refusal_sets, splits, best[1])
    block = render_fitted(fitted)
    print(block)
    if args.write:
        write_fitted(TUNING_FILE, block)
        print(f"已写入 {TUNING_FILE}")
        if (fitted.bm25_k1, fitted.bm25_b) != (FITTED.bm25_k1, FITTED.bm25_b):
            print("BM25 的 k1/b 已变：现有索引（机器人的与 benchmarks/.work 中的）重建后才会使用新值")
    else:
        print(f"（加 --write 写入 {TUNING_FILE}）")


def fit_bm25(searchers: dict[str, Searcher], dev) -> tuple[float, float]:
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
    print(f"bm25 k1={k1} b={b}  (FITTED has k1={FITTED.bm25_k1}, b={FITTED.bm25_b})", flush=True)
    for name, searcher in searchers.items():
        searcher.index.bm25 = built[name]
    return k1, b


FEATURE_SETS = (
    ("coverage", "char_coverage", "dense_z"),
    ("char_coverage", "dense_z"),
    ("char_coverage", "sentence_cos"),
    ("coverage", "char_coverage", "sentence_cos"),
    ("coverage", "char_coverage", "dense_z", "sentence_cos"),
)
REFUSED_ANSWERABLE = 0.02  # the answer-quality target's ceiling on answerable questions refused


def fit_refusal(sets: list[tuple[Searcher, list]], splits: dict[str, str], tuning: Tuning) -> Tuning:
    """Per feature set a logistic fit on dev, cut where it refuses the targeted share of answerable dev questions.

    The target caps that error, so the cut spends exactly it and the feature sets compete on the other one: the
    set that refuses the most dev outside questions wins; ties go to fewer answerable ones refused, then to
    fewer features.
    """
    from sklearn.linear_model import LogisticRegression

    rows = [dict(r, split=splits[r["id"]]) for s, questions in sets for r in rows_for(s, questions, tuning)]
    # the answer-type and place rules refuse those on their own
    rows = [r for r in rows if r["evidence"].type_found and not r["ruled"]]
    best = None
    for features in FEATURE_SETS:
        x = np.array([[getattr(r["evidence"], f) for f in features] for r in rows])
        y = np.array([r["answerable"] for r in rows])
        dev = np.array([r["split"] == "dev" for r in rows])
        model = LogisticRegression(class_weight={True: 1.0, False: 3.0}, C=10.0, max_iter=1000).fit(x[dev], y[dev])
        margins = x @ model.coef_[0] + model.intercept_[0]
        cut = float(np.quantile(margins[dev & y], REFUSED_ANSWERABLE)) - 1e-6
        refused = margins < cut
        parts = []
        for part in ("dev", "heldout"):
            chosen = np.array([r["split"] == part for r in rows])
            parts.append(
                f"{part} out {int((refused & chosen & ~y).sum())}/{int((chosen & ~y).sum())} "
                f"in {int((refused & chosen & y).sum())}/{int((chosen & y).sum())}"
            )
        print(f"refusal {features}: {' | '.join(parts)}  (all indexes)")
        score = (int((refused & dev & ~y).sum()), -int((refused & dev & y).sum()), -len(features))
        if best is None or score > best[0]:
            best = (score, features, model.coef_[0], model.intercept_[0] - cut)
    _, features, weights, bias = best
    return replace(
        tuning,
        refusal_features=tuple(features),
        refusal_weights=tuple(round(float(w), 3) for w in weights),
        bias=round(float(bias), 3),
    )


def _literal(value: object) -> str:
    """Python source for a field's value, quoted the way the formatter leaves it."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        items = ", ".join(_literal(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    if isinstance(value, int | float):
        return repr(float(value))
    raise TypeError(f"no literal for {type(value).__name__}")


def render_fitted(tuning: Tuning) -> str:
    """The FITTED assignment, one field per line, so that a refit shows in a diff as the values that moved."""
    lines = [f"    {f.name}={_literal(getattr(tuning, f.name))}," for f in fields(tuning)]
    return "\n".join(["FITTED = Tuning(", *lines, ")"])


def splice_fitted(source: str, block: str) -> str:
    """`source` with the lines between the FITTED markers replaced by `block`; the markers themselves stay."""
    lines = source.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if line.startswith(BEGIN)]
    ends = [i for i, line in enumerate(lines) if line.rstrip("\n") == END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise ValueError(f"expected one {BEGIN!r} … {END!r} block")
    return "".join(lines[: begins[0] + 1]) + block.rstrip("\n") + "\n" + "".join(lines[ends[0] :])


def write_fitted(path: Path, block: str) -> None:
    path.write_text(splice_fitted(path.read_text(encoding="utf-8"), block), encoding="utf-8")


if __name__ == "__main__":
    main()
