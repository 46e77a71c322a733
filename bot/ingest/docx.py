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
    """python-docx raises for non-zip or non-Word files; that becomes an IngestError naming the file.

    Style names come from one table built up front: python-docx's `paragraph.style` searches the styles part
    on every call, which made a document of many short paragraphs quadratic.
    """
    try:
        document = docx.Document(str(path))
    except (OpcError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise IngestError(source, f"不是可读的 .docx 文件（{type(exc).__name__}: {exc}）") from exc
    names = {style.style_id: (style.name or "").lower() for style in document.styles}
    paragraphs = [(" ".join(p.text.split()), names.get(p._p.style or "", "")) for p in document.paragraphs]
    paragraphs = [(text, style) for text, style in paragraphs if text]
    if not paragraphs:
        raise IngestError(source, "文档是空的")
    title, body = _split_title(paragraphs)
    return [build_article({"title": title}, body, source, f"{source}#0")]


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
