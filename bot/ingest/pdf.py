"""PDF pages: pdfminer gives the same column-ordered text as the `.txt` dumps, so the newspaper parser does the rest."""

from __future__ import annotations

from pathlib import Path

from pdfminer.high_level import extract_text

from bot.ingest.newspaper import parse_page
from bot.ingest.records import Article, IngestError
from bot.ingest.text import date_from_filename


def read_pdf(path: Path, source: str) -> list[Article]:
    """Any pdfminer failure (corrupt, encrypted, truncated) becomes an IngestError naming the file."""
    if path.stat().st_size == 0:
        raise IngestError(source, "empty file")
    try:
        text = extract_text(path)
    except Exception as exc:  # pdfminer raises many unrelated types for broken files
        raise IngestError(source, f"unreadable PDF: {type(exc).__name__}: {exc}") from exc
    if not text.strip():
        raise IngestError(source, "PDF has no extractable text (scanned image?)")
    return parse_page(text, source, date_from_filename(path.name))
