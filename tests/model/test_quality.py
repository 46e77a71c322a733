"""Regression guards on retrieval quality over the seed (measured numbers in docs/measurements.md; margins below them)."""

import pytest

from bot.retrieval.answer import answer
from bot.retrieval.evaluate import evaluate, load_questions
from tests.conftest import ROOT

QA = load_questions(ROOT / "tests" / "data" / "qa.jsonl")


@pytest.fixture(scope="module")
def metrics(seed_searcher) -> dict:
    return {
        mode: evaluate(QA, lambda q, m=mode: answer(q, seed_searcher, k=10, mode=m))
        for mode in ("bm25", "dense", "hybrid")
    }


def test_hybrid_ranks_well_on_the_seed(metrics):
    hybrid = metrics["hybrid"]
    assert hybrid["r1"] >= 0.92 and hybrid["r5"] >= 0.96, hybrid
    assert hybrid["answer1"] >= 0.85, hybrid


def test_hybrid_beats_both_legs(metrics):
    assert metrics["hybrid"]["r1"] >= metrics["bm25"]["r1"] + 0.10, metrics
    assert metrics["hybrid"]["r1"] >= metrics["dense"]["r1"] + 0.10, metrics


def test_refusals_hold(metrics):
    hybrid = metrics["hybrid"]
    assert hybrid["refused_right"] >= 0.88 * hybrid["out_of_corpus"], hybrid
    assert hybrid["refused_wrong"] <= 0.04 * hybrid["answerable"], hybrid
