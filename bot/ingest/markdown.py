"""Markdown articles with YAML front matter (title, date, place, source, author, url)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.ingest.records import Article, IngestError
from bot.ingest.single import build_article
from bot.ingest.text import read_text, split_paragraphs

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.*?)\s*#*\s*$")


def read_markdown(path: Path, source: str) -> list[Article]:
    """Front matter wins; otherwise the first `# heading` is the title. Heading lines never become paragraphs."""
    text = read_text(path, source).replace("\r\n", "\n")
    meta, body = _front_matter(text, source)
    headings = [m["text"] for m in map(_HEADING.match, body.splitlines()) if m]
    body = "\n".join(line for line in body.splitlines() if not _HEADING.match(line))
    fields = {**meta, "title": meta.get("title") or (headings[0] if headings else "")}
    return [build_article(fields, split_paragraphs(body), source, f"{source}#0")]


def _front_matter(text: str, source: str) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        data = yaml.safe_load(match["yaml"]) or {}
    except yaml.YAMLError as exc:
        raise IngestError(source, f"invalid YAML front matter: {exc}") from exc
    if not isinstance(data, dict):
        raise IngestError(source, "YAML front matter is not a mapping")
    return data, text[match.end() :]
