"""answer(): the one function every channel calls — the sentences that answer, where they stand, and the source."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bot.ingest.places import short_form, to_simplified
from bot.retrieval.names import QUOTES
from bot.retrieval.passages import Passage
from bot.retrieval.question_types import answer_pattern, counted_thing
from bot.retrieval.search import Hit, Searcher
from bot.retrieval.sentences import opening_heading, sentence_units
from bot.retrieval.tuning import FITTED

MAX_SENTENCES = 3
PLACES_DEPTH = 20  # hits searched when a question names no place, to find the other places reporting it
ALSO_PLACES = 3
LIST_PLACES = 10
# the frame of a list question (哪些地方在搞…) asks for places; what it asks about is the rest
LIST_QUESTION = re.compile(
    r"(?:都有|有)?(?:哪些|哪几个)(?:地方|县|市|区|地区|乡镇|地市)(?:都|也)?(?:在|有)?(?:搞|推行|开展|实行|建)?了?"
    r"|各地(?:的|都)?"
)
CAPTION = "图为"
_COUNT_QUESTION = re.compile(r"多少|几|多长|多大|多久|多高|数量|规模")
_HAS_NUMBER = re.compile(r"\d")
_VISIBLE = re.compile(r"[\w\u4e00-\u9fff]", re.U)


@dataclass(frozen=True)
class Source:
    """A passage quoted beside the answer: another place's (另见, a line of a list answer) or another paragraph
    of the answer's own article."""

    rank: int  # 1-based position in Answer.hits, so a button can open its article
    hit: Hit
    sentence: str

    @property
    def passage(self) -> Passage:
        return self.hit.passage


@dataclass
class Answer:
    question: str
    abstained: bool
    # "", "empty", "too_long", "no_text", "no_match", "absent_place", "place_unanswered", "absent_name"
    reason: str = ""
    sentences: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)  # for "absent_place"/"absent_name": a close practice, if any
    # the places named (not covered, or covered but not answering), or the quoted names no article carries
    absent: list[str] = field(default_factory=list)
    also: list[Source] = field(default_factory=list)  # other places with the same practice, best first
    beside: Source | None = None  # the answer's own article, another paragraph scored close to it
    listing: bool = False  # a list question: `also` holds every place found, not just a few

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
    framed = bool(LIST_QUESTION.search(question))
    asked = LIST_QUESTION.sub(" ", question).strip() if framed else question.strip()
    # other places' passages sit further down than the k shown
    result = searcher.search(asked or question.strip(), k=max(k, PLACES_DEPTH), mode=mode)
    named = bool(result.named)
    listing = framed and not named
    if result.absent:
        rest = to_simplified(question)
        for name in result.absent:
            for form in {name, short_form(name) or name}:
                rest = rest.replace(form, "")
        return _elsewhere(question, rest, "absent_place", result.absent, searcher, k, mode)
    if result.unknown:  # the name's words without its quotes: what comes closest to the practice asked about
        rest = QUOTES.sub("", to_simplified(question))
        return _elsewhere(question, rest, "absent_name", result.unknown, searcher, k, mode)
    if result.unanswered:
        top = result.hits[0]
        return Answer(
            question,
            True,
            "place_unanswered",
            hit_sentences(question, top, searcher),
            result.hits[:k],
            result.unanswered,
        )
    if result.abstained or not result.hits:
        return Answer(question, True, "no_match")
    top = result.hits[0]
    sentences = hit_sentences(question, top, searcher)
    also = [] if named else _other_places(question, result.hits, searcher, listing)
    hits = result.hits[:k]
    for i, source in enumerate(also):  # a place found below the k shown keeps its hit, after them
        if source.rank > k:
            hits.append(source.hit)
            also[i] = replace(source, rank=len(hits))
    beside = None if listing else _beside(question, hits, searcher)
    return Answer(question, False, "", sentences, hits, also=also, beside=beside, listing=listing)


def hit_sentences(question: str, hit: Hit, searcher: Searcher) -> list[str]:
    """The sentences of one hit that answer the question, chosen as the answer's own are."""
    index = searcher.index
    return pick_sentences(
        question, hit.passage.text, index.segmenter.tokens, index.idf, hit.sentences, searcher.tuning.sentence_dense
    )


def _quote(question: str, rank: int, hit: Hit, searcher: Searcher) -> Source:
    """One line beside the answer: the hit's best answering sentence."""
    return Source(rank, hit, (hit_sentences(question, hit, searcher) or [hit.passage.text])[0])


def place_key(passage: Passage) -> str:
    """One place, one line: the county an article is about, else whatever place it names, else itself."""
    return passage.county or passage.city or passage.place or passage.article_id


def _other_places(question: str, hits: list[Hit], searcher: Searcher, listing: bool) -> list[Source]:
    """The same practice reported from other places, scored close to the answer: a question that names no
    place must not be answered from one place at random without saying that others exist."""
    t = searcher.tuning
    floor = hits[0].score - (t.list_margin if listing else t.also_margin)
    seen = {place_key(hits[0].passage)}
    found = []
    for rank, hit in enumerate(hits[1:], start=2):
        key = place_key(hit.passage)
        if hit.score < floor or key in seen:
            continue
        seen.add(key)
        found.append(_quote(question, rank, hit, searcher))
        if len(found) >= (LIST_PLACES if listing else ALSO_PLACES) - (1 if listing else 0):
            break
    return found


def _beside(question: str, hits: list[Hit], searcher: Searcher) -> Source | None:
    """The commonest miss is the right report's other paragraph: the lead names the place and the practice,
    the paragraph after it says how it works. When one of those scores close to the answer, the reply
    quotes it too."""
    floor = hits[0].score - searcher.tuning.also_margin
    for rank, hit in enumerate(hits[1:], start=2):
        if hit.score >= floor and hit.passage.article_id == hits[0].passage.article_id:
            return _quote(question, rank, hit, searcher)
    return None


def _elsewhere(
    question: str, rest: str, reason: str, absent: list[str], searcher: Searcher, k: int, mode: str
) -> Answer:
    """The named place (or quoted name) is not in the corpus; the question without it may still find a close
    practice, which a reply offers as exactly that, never as the answer for what was named."""
    other = searcher.search(rest.strip(), k=k, mode=mode) if rest.strip() else None
    if other is None or other.abstained or not other.hits:
        return Answer(question, True, reason, absent=absent)
    top = other.hits[0]
    index = searcher.index
    sentences = pick_sentences(rest, top.passage.text, index.segmenter.tokens, index.idf, top.sentences)
    return Answer(question, True, reason, sentences, other.hits, absent)


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
    count of the asked kind cannot answer “多少个”, however many question words it shares, and of two units
    with counts the one naming what is counted (“多少苹果” … 苹果1.6万斤) answers.
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
    counted = counted_thing(question)
    heading = opening_heading(text)
    lexical = []
    typed = []
    names = []
    for unit in units:
        body = unit.removeprefix(heading)
        score = sum(idf.get(t, default) for t in query & set(tokenize(body))) / total
        typed.append(bool(count and count.search(body)))
        has_number = bool(_HAS_NUMBER.search(body))
        names.append(has_number and any(form in body for form in counted))
        if wants_number and not typed[-1] and has_number:
            score += 0.15
        lexical.append(score)
    dense = [0.0] * len(units)
    if cosines and len(cosines) == len(units):
        dense = [sentence_dense * (c - max(cosines)) for c in cosines]
    captions = [unit.startswith(CAPTION) and len(units) > 1 for unit in units]
    order = sorted(
        range(len(units)), reverse=True, key=lambda i: (not captions[i], typed[i], names[i], lexical[i] + dense[i], -i)
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
