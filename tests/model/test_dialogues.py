"""Follow-up dialogues with the real model: every dialogue of tests/data/multi/dialogues.jsonl that stays within
the seed corpus, over the seed index (the whole file runs over the many-places corpus in benchmarks.dialogues)."""

from __future__ import annotations

from bot.retrieval import rewrite
from bot.retrieval.dialogues import load_dialogues, run, summarize
from bot.retrieval.sentences import squash
from tests.conftest import ROOT, SEED

DIALOGUES = load_dialogues(ROOT / "tests" / "data" / "multi" / "dialogues.jsonl")
SEED_TEXT = squash(SEED.read_text(encoding="utf-8"))


def test_seed_dialogues_follow_up_right(seed_searcher) -> None:
    seed = [d for d in DIALOGUES if all(t.gold and squash(t.gold[0]) in SEED_TEXT for t in d.turns)]
    assert len(seed) >= 5
    metrics = summarize(run(seed, lambda question, thread: rewrite.respond(question, thread, seed_searcher)))
    assert metrics["all"]["r1"] == 1.0, metrics
    assert metrics["glued"] == 0 and metrics["misread"] == 0, metrics
