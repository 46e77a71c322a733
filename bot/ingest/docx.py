"""Word documents: the first Title/Heading paragraph (or a short first line) is the title, the rest is the body."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
from docx.opc.exceptions import OpcError

from bot.ingest.records import Article, IngestError
from bot.ingest.single import build_article
from bot.ingest.text import ends_sentence

MAX_TITLE_CHARS = 40


def read_docx(path: Path, source: str) -> list[Article]:
    """python-docx raises for non-zip or non-Word files; that becomes an IngestError naming the file."""
    try:
        document = docx.Document(str(path))
    except (OpcError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise IngestError(source, f"not a readable .docx: {type(exc).__name__}: {exc}") from exc
    paragraphs = [(" ".join(p.text.split()), _style(p)) for p in document.paragraphs]
    paragraphs = [(text, style) for text, style in paragraphs if text]
    if not paragraphs:
        raise IngestError(source, "empty document")
    title, body = _split_title(paragraphs)
    return [build_article({"title": title}, body, source, f"{source}#0")]


def _style(paragraph: object) -> str:
    style = getattr(paragraph, "style", None)
    return (getattr(style, "name", "") or "").lower()


def _is_heading_style(style: str) -> bool:
    return style == "title" or style.startswith("heading")


def _split_title(paragraphs: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """Heading-styled paragraphs are structure, not body text, matching how Markdown headings are treated."""
    styled = [text for text, style in paragraphs if _is_heading_style(style)]
    body = [text for text, style in paragraphs if not _is_heading_style(style)]
    if styled:
        return styled[0], body
    first = body[0]
    if len(body) > 1 and len(first) <= MAX_TITLE_CHARS and not ends_sentence(first):
        return first, body[1:]
    return "", body
