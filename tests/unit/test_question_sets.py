"""The question sets are measuring instruments: a gold span that points at two paragraphs, or that no single
answer sentence can hold, makes answer@1 wrong however good the bot is."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.ingest import load_corpus
from bot.retrieval.sentences import squash

ROOT = Path(__file__).resolve().parents[2]
MULTI = ROOT / "tests" / "data" / "multi"
DATA = ROOT / "tests" / "data"
SETS = [
    DATA / "qa.jsonl",
    DATA / "qa_round3.jsonl",
    *sorted(MULTI.glob("qa_[A-Z].jsonl")),
    MULTI / "heldout" / "qa_heldout.jsonl",
]
_END = "。！？"


@pytest.fixture(scope="module")
def paragraphs() -> list[str]:
    texts: list[str] = []
    for corpus in (MULTI / "corpus", ROOT / "corpus"):
        articles, errors = load_corpus(corpus)
        assert not errors
        texts += [squash(p) for a in articles for p in a.paragraphs]
    return texts


def _golds() -> list[tuple[str, str]]:
    """Fact and practice questions; a list or ambiguous question's gold is the practice's name, found in many."""
    return [
        (q["id"], gold)
        for path in SETS
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
        for q in [json.loads(line)]
        if q.get("kind", "fact") in ("fact", "practice")
        for gold in q.get("gold") or []
    ]


@pytest.mark.parametrize(("qid", "gold"), _golds(), ids=lambda v: v if re.match(r"\w+-\d+$", str(v)) else "")
def test_gold_is_one_paragraph_and_whole_sentences(qid: str, gold: str, paragraphs: list[str]) -> None:
    wanted = squash(gold)
    holders = [p for p in paragraphs if wanted in p]
    assert len(holders) == 1, f"{qid}: gold in {len(holders)} paragraphs"
    assert wanted[0] not in _END, f"{qid}: gold begins with the previous sentence's end"
    if any(c in wanted for c in _END):  # a span over two sentences must end where the second one does
        after = holders[0][holders[0].index(wanted) + len(wanted) :]
        assert wanted[-1] in _END or not after or after[0] in _END, f"{qid}: gold ends inside a third sentence"
