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
        raise IngestError(source, "文件是空的")
    try:
        text = extract_text(path)
    except MemoryError:
        raise
    except Exception as exc:  # pdfminer raises many unrelated types for broken files
        raise IngestError(source, f"无法读取的 PDF（{type(exc).__name__}: {exc}）") from exc
    if not text.strip():
        raise IngestError(source, "PDF 里没有可提取的文字（可能是扫描图片）")
    return parse_page(text, source, date_from_filename(path.name))
