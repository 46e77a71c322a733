"""One-article-per-record formats (Markdown, JSONL, DOCX) share the same field handling."""

from __future__ import annotations

from collections.abc import Mapping

from bot.ingest.records import Article, IngestError
from bot.ingest.text import (
    byline_author,
    check_chinese,
    clean_paragraph,
    clean_title,
    first_clause,
    normalize_date,
    split_byline,
)

# a real headline, place or byline is short; a 4,500-character "title" is a broken or hostile file
FIELD_LIMITS = {"title": 200, "kicker": 200, "place": 50, "author": 100, "source": 200, "url": 2000, "date": 40}
MAX_ARTICLE_CHARS = 200_000


def _text(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


def _check_sizes(fields: Mapping[str, object], paragraphs: list[str], source: str) -> None:
    for name, limit in FIELD_LIMITS.items():
        size = len(_text(fields.get(name)))
        if size > limit:
            raise IngestError(source, f"字段 {name} 太长（{size} 字，上限 {limit} 字）")
    size = sum(map(len, paragraphs))
    if size > MAX_ARTICLE_CHARS:
        raise IngestError(source, f"正文太长（{size} 字，单篇上限 {MAX_ARTICLE_CHARS} 字）")


def build_article(fields: Mapping[str, object], paragraphs: list[str], source: str, article_id: str) -> Article:
    """Article from metadata + raw body paragraphs; a leading `本报X讯（…）` dateline moves to byline (and place)."""
    _check_sizes(fields, paragraphs, source)
    byline, byline_place, rest = split_byline(paragraphs[0]) if paragraphs else ("", "", "")
    if byline:
        paragraphs = [rest, *paragraphs[1:]]
    paragraphs = [text for text in map(clean_paragraph, paragraphs) if text]
    if not paragraphs:
        raise IngestError(source, "没有正文")
    check_chinese(" ".join([_text(fields.get("title")), *paragraphs]), source)
    title = clean_title(_text(fields.get("title")))
    meta: dict[str, object] = {}
    if not title:
        title, meta["title_inferred"] = first_clause(paragraphs[0]), True
    if _text(fields.get("source")):
        meta["publication"] = _text(fields.get("source"))
    date = normalize_date(fields.get("date"))
    if fields.get("date") and not date:
        meta["raw_date"] = _text(fields.get("date"))
    return Article(
        article_id=article_id,
        title=title,
        paragraphs=paragraphs,
        source=source,
        kicker=_text(fields.get("kicker")),
        place=_text(fields.get("place")) or byline_place,  # else the gazetteer's county (places.locate)
        date=date,
        byline=byline,
        author=_text(fields.get("author")) or byline_author(byline),
        url=_text(fields.get("url")),
        meta=meta,
    )
