"""Every fitted weight of retrieval in one place: `benchmarks/tune.py --write` rewrites the FITTED block.

BM25's k1/b shape the keyword index at build time; the fusion and refusal weights are read per question;
`sentence_dense` weighs a unit's cosine against its word overlap when the answer sentence is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tuning:
    bm25_k1: float
    bm25_b: float
    bm25: float
    dense: float
    sentence: float
    chars: float  # share of the question's content characters in the passage, for the head of the ranking
    place: float  # for the head of the ranking: the passage's article is about a place the question names
    remark: float  # taken from a paragraph that opens with someone's words (“……”某某说): colour, seldom the answer
    quote: float  # every passage of an article that carries a name the question quotes (“两卡一册”)
    recency: float  # for 最近/最新/今年 questions: the newest article in the head of the ranking gains this much
    # answer only when Σ weight·evidence feature + bias ≥ 0
    refusal_features: tuple[str, ...]
    refusal_weights: tuple[float, ...]
    bias: float
    keyword_only_min_chars: float
    sentence_dense: float  # per unit of cosine when ranking the answer units of one passage
    also_margin: float  # another place's passage this close to the answer's score is shown as 另见
    list_margin: float  # the same for the lines of a list answer (哪些地方在搞…)


# --- FITTED: written by benchmarks/tune.py --write; edit there, not here ---
FITTED = Tuning(
    bm25_k1=0.9,
    bm25_b=0.4,
    bm25=0.6,
    dense=0.4,
    sentence=0.4,
    chars=1.5,
    place=1.0,
    remark=0.4,
    quote=1.0,
    recency=1.0,
    refusal_features=("coverage", "char_coverage", "sentence_cos"),
    refusal_weights=(-0.627, 7.893, 19.215),
    bias=-21.847,
    keyword_only_min_chars=0.7,
    sentence_dense=24.0,
    also_margin=0.3,
    list_margin=0.5,
)
# --- end FITTED ---
