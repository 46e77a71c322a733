"""answer(): the one function every channel calls — the sentences that answer, where they stand, and the source."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.passages import Passage
from bot.search import Hit, Searcher
from bot.text import counts, measure_words, split_sentences

MAX_SENTENCES = 3
HEADING_CHARS = 14
LEAD_CHARS = 24
_COUNT_QUESTION = re.compile(r"多少|几|多长|多大|多久|多高|数量|规模")
_HAS_NUMBER = re.compile(r"\d")
_VISIBLE = re.compile(r"[\w\u4e00-\u9fff]", re.U)


@dataclass
class Answer:
    question: str
    abstained: bool
    reason: str = ""  # "", "empty", "too_long", "no_text", "no_match"
    sentences: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)

    @property
    def passage(self) -> Passage | None:
        return self.hits[0].passage if self.hits and not self.abstained else None

    @property
    def citation(self) -> str:
        return citation(self.passage) if self.passage else ""

    def segments(self) -> list[tuple[str, bool]]:
        """The top passage cut into (text, is_answer) pieces, so a channel can bold the answer in place."""
        if self.passage is None:
            return []
        return mark(self.passage.text, self.sentences)

    def to_dict(self) -> dict:
        return {"answer": self.sentences, "citation": self.citation}


def citation(passage: Passage) -> str:
    parts = [passage.title, passage.place, passage.date, passage.byline]
    return " · ".join(p for p in parts if p)


def check_question(question: str, max_chars: int) -> str:
    """Reason to refuse before searching, or "" when the question can be searched."""
    text = question.strip()
    if not text:
        return "empty"
    if len(text) > max_chars:
        return "too_long"
    if not _VISIBLE.search(text):
        return "no_text"
    return ""


def answer(question: str, searcher: Searcher, k: int = 5, max_chars: int = 500, mode: str = "hybrid") -> Answer:
    reason = check_question(question, max_chars)
    if reason:
        return Answer(question, True, reason)
    result = searcher.search(question.strip(), k=k, mode=mode)
    if result.abstained or not result.hits:
        return Answer(question, True, "no_match")
    index = searcher.index
    sentences = pick_sentences(question, result.hits[0].passage.text, index.segmenter.tokens, index.idf)
    return Answer(question, False, "", sentences, result.hits)


def sentence_units(text: str) -> list[str]:
    """A lead-in like “实行“3+1”帮带制。” says nothing alone; it travels with the sentence after it."""
    units: list[str] = []
    carry = ""
    for position, sentence in enumerate(split_sentences(text)):
        if len(sentence) <= (LEAD_CHARS if position == 0 else HEADING_CHARS):
            carry += sentence
            continue
        units.append(carry + sentence)
        carry = ""
    if carry and units:
        units[-1] += carry
    elif carry:
        units.append(carry)
    return units


def pick_sentences(question: str, text: str, tokenize: Callable[[str], list[str]],
                   idf: dict[str, float] | None = None) -> list[str]:
    units = sentence_units(text)
    if not units:
        return []
    idf = idf or {}
    default = max(idf.values(), default=1.0)
    query = set(tokenize(question))
    total = sum(idf.get(t, default) for t in query) or 1.0
    count = counts(measure_words(question))
    wants_number = bool(_COUNT_QUESTION.search(question))
    scored = []
    for position, unit in enumerate(units):
        score = sum(idf.get(t, default) for t in query & set(tokenize(unit)))
        if count and count.search(unit):
            score += 0.5 * total
        elif wants_number and _HAS_NUMBER.search(unit):
            score += 0.15 * total
        scored.append((score, -position, unit))
    best = max(scored)
    if best[0] <= 0:
        return [units[0]]
    chosen = [u for s, _, u in sorted(scored, reverse=True)[:MAX_SENTENCES] if s >= best[0] * 0.6]
    order = {u: i for i, u in enumerate(units)}
    rest = sorted((u for u in chosen if u != best[2]), key=order.get)
    return [best[2], *rest]


def mark(text: str, sentences: list[str]) -> list[tuple[str, bool]]:
    spans = sorted((text.find(s), len(s)) for s in sentences if s and text.find(s) >= 0)
    pieces: list[tuple[str, bool]] = []
    cursor = 0
    for start, length in spans:
        if start < cursor:
            continue
        if start > cursor:
            pieces.append((text[cursor:start], False))
        pieces.append((text[start:start + length], True))
        cursor = start + length
    if cursor < len(text):
        pieces.append((text[cursor:], False))
    return pieces
