"""One-article-per-record formats (Markdown, JSONL, DOCX) share the same field handling."""

from __future__ import annotations

from collections.abc import Mapping

from bot.ingest.records import Article, IngestError
from bot.ingest.text import (
    byline_author,
    clean_paragraph,
    clean_title,
    derive_place,
    first_clause,
    normalize_date,
    split_byline,
)


def _text(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


def build_article(fields: Mapping[str, object], paragraphs: list[str], source: str, article_id: str) -> Article:
    """Article from metadata + raw body paragraphs; a leading `本报X讯（…）` dateline moves to byline (and place)."""
    byline, byline_place, rest = split_byline(paragraphs[0]) if paragraphs else ("", "", "")
    if byline:
        paragraphs = [rest, *paragraphs[1:]]
    paragraphs = [text for text in map(clean_paragraph, paragraphs) if text]
    if not paragraphs:
        raise IngestError(source, "no article text")
    title = clean_title(_text(fields.get("title")))
    meta: dict[str, object] = {}
    if not title:
        title, meta["title_inferred"] = first_clause(paragraphs[0]), True
    county, town = derive_place([title])
    if town:
        meta["town"] = town
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
        place=_text(fields.get("place")) or byline_place or county,
        date=date,
        byline=byline,
        author=_text(fields.get("author")) or byline_author(byline),
        url=_text(fields.get("url")),
        meta=meta,
    )
