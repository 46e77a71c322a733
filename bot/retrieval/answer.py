"""answer(): the one function every channel calls — the sentences that answer, where they stand, and the source."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.ingest.places import short_form, to_simplified
from bot.retrieval.passages import Passage
from bot.retrieval.question_types import answer_pattern
from bot.retrieval.search import Hit, Searcher
from bot.retrieval.sentences import opening_heading, sentence_units
from bot.retrieval.tuning import FITTED

MAX_SENTENCES = 3
CAPTION = "图为"
_COUNT_QUESTION = re.compile(r"多少|几|多长|多大|多久|多高|数量|规模")
_HAS_NUMBER = re.compile(r"\d")
_VISIBLE = re.compile(r"[\w\u4e00-\u9fff]", re.U)


@dataclass
class Answer:
    question: str
    abstained: bool
    reason: str = ""  # "", "empty", "too_long", "no_text", "no_match", "absent_place"
    sentences: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)  # for "absent_place": the same practice elsewhere, if any
    absent: list[str] = field(default_factory=list)

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
    place = passage.place
    if passage.town and passage.town not in place:
        place = f"{place} {passage.town}".strip()
    parts = [passage.title, place, passage.date, passage.byline]
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
    if result.absent:
        return _elsewhere(question, result.absent, searcher, k, mode)
    if result.abstained or not result.hits:
        return Answer(question, True, "no_match")
    index = searcher.index
    top = result.hits[0]
    sentences = pick_sentences(
        question, top.passage.text, index.segmenter.tokens, index.idf, top.sentences, searcher.tuning.sentence_dense
    )
    return Answer(question, False, "", sentences, result.hits)


def _elsewhere(question: str, absent: list[str], searcher: Searcher, k: int, mode: str) -> Answer:
    """The named place is not in the corpus; the same question without it may still find the practice in
    another place, which a reply offers as exactly that, never as the named place's answer."""
    rest = to_simplified(question)
    for name in absent:
        for form in {name, short_form(name) or name}:
            rest = rest.replace(form, "")
    other = searcher.search(rest.strip(), k=k, mode=mode) if rest.strip() else None
    if other is None or other.abstained or other.absent or not other.hits:
        return Answer(question, True, "absent_place", absent=absent)
    top = other.hits[0]
    index = searcher.index
    sentences = pick_sentences(rest, top.passage.text, index.segmenter.tokens, index.idf, top.sentences)
    return Answer(question, True, "absent_place", sentences, other.hits, absent)


def pick_sentences(
    question: str,
    text: str,
    tokenize: Callable[[str], list[str]],
    idf: dict[str, float] | None = None,
    cosines: list[float] | None = None,
    sentence_dense: float = FITTED.sentence_dense,
) -> list[str]:
    """Question words by IDF, the answer type, and (when given) each unit's cosine with the question.

    The passage's opening heading frames every unit, so its words count for none; a photo caption
    (“图为…”) describes a picture and answers only when nothing else in the passage can; a unit without a
    count of the asked kind cannot answer “多少个”, however many question words it shares.
    """
    units = sentence_units(text)
    if not units:
        return []
    idf = idf or {}
    default = max(idf.values(), default=1.0)
    query = set(tokenize(question))
    total = sum(idf.get(t, default) for t in query) or 1.0
    count = answer_pattern(question)
    wants_number = bool(_COUNT_QUESTION.search(question))
    heading = opening_heading(text)
    lexical = []
    typed = []
    for unit in units:
        body = unit.removeprefix(heading)
        score = sum(idf.get(t, default) for t in query & set(tokenize(body))) / total
        typed.append(bool(count and count.search(body)))
        if wants_number and not typed[-1] and _HAS_NUMBER.search(body):
            score += 0.15
        lexical.append(score)
    dense = [0.0] * len(units)
    if cosines and len(cosines) == len(units):
        dense = [sentence_dense * (c - max(cosines)) for c in cosines]
    captions = [unit.startswith(CAPTION) and len(units) > 1 for unit in units]
    order = sorted(
        range(len(units)), reverse=True, key=lambda i: (not captions[i], typed[i], lexical[i] + dense[i], -i)
    )
    best = order[0]
    extra = sorted(
        i
        for i in order[1:MAX_SENTENCES]
        if not captions[i] and typed[i] >= typed[best] and lexical[i] >= lexical[best] * 0.6 and lexical[i] > 0
    )
    return [units[best], *(units[i] for i in extra)]


def mark(text: str, sentences: list[str]) -> list[tuple[str, bool]]:
    spans = sorted((text.find(s), len(s)) for s in sentences if s and text.find(s) >= 0)
    pieces: list[tuple[str, bool]] = []
    cursor = 0
    for start, length in spans:
        if start < cursor:
            continue
        if start > cursor:
            pieces.append((text[cursor:start], False))
        pieces.append((text[start : start + length], True))
        cursor = start + length
    if cursor < len(text):
        pieces.append((text[cursor:], False))
    return pieces
