"""Articles become passages: paragraphs of a readable size that carry their article's metadata."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from bot.ingest.records import Article
from bot.retrieval.sentences import split_sentences

# what a passage carries of its article, so a hit can be cited without the article at hand
INHERITED = ("title", "place", "date", "byline", "source", "kicker", "kind", "province", "city", "county", "town")
MAX_CHARS = 300
MIN_CHARS = 40


@dataclass
class Passage:
    passage_id: str
    article_id: str
    title: str
    place: str
    date: str
    byline: str
    source: str
    position: int
    text: str
    kicker: str = ""
    kind: str = "article"
    province: str = ""
    city: str = ""
    county: str = ""
    town: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def context(self) -> str:
        """Title, kicker and place, indexed with the text: paragraphs rarely repeat where they happen."""
        return " ".join(part for part in (self.title, self.kicker, self.place) if part)


def chunk_paragraph(paragraph: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Long paragraphs split at sentence ends, so every piece is still a quotable whole."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    chunks: list[str] = []
    current = ""
    for sentence in (piece for s in split_sentences(paragraph) for piece in _cut_long(s, max_chars)):
        if current and len(current) + len(sentence) > max_chars:
            chunks.append(current)
            current = ""
        current += sentence
    if current:
        chunks.append(current)
    return _merge_small(chunks)


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    """A "sentence" longer than a passage (a run-on with no stop at all) is cut after a comma or a space."""
    pieces = []
    while len(sentence) > max_chars:
        head = sentence[:max_chars]
        cut = max(head.rfind(mark) for mark in "，、,；;： ") + 1
        cut = cut if cut > max_chars // 2 else max_chars
        pieces.append(sentence[:cut])
        sentence = sentence[cut:]
    return [*pieces, sentence] if sentence else pieces


def _merge_small(pieces: list[str], min_chars: int = MIN_CHARS) -> list[str]:
    merged: list[str] = []
    for piece in pieces:
        if merged and (len(piece) < min_chars or len(merged[-1]) < min_chars):
            merged[-1] += piece
        else:
            merged.append(piece)
    return merged


def article_passages(article: Article) -> list[Passage]:
    pieces: list[str] = []
    for paragraph in article.paragraphs:
        pieces.extend(chunk_paragraph(paragraph.strip()))
    pieces = _merge_small([p for p in pieces if p])
    return [
        Passage(
            passage_id=_passage_id(article.article_id, position, text),
            article_id=article.article_id,
            position=position,
            text=text,
            **{name: getattr(article, name) for name in INHERITED},
        )
        for position, text in enumerate(pieces)
    ]


def _passage_id(article_id: str, position: int, text: str) -> str:
    digest = hashlib.sha1(f"{article_id}\n{position}\n{text}".encode()).hexdigest()[:12]
    return f"p{digest}"


def build_passages(articles: list[Article]) -> list[Passage]:
    return [passage for article in articles for passage in article_passages(article)]
