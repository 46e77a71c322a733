"""Markdown articles with YAML front matter (title, date, place, source, author, url)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.ingest.records import Article, IngestError
from bot.ingest.single import build_article
from bot.ingest.text import read_text, split_paragraphs

MAX_FRONT_MATTER = 8192


class _NoAliasLoader(yaml.SafeLoader):
    """Front matter is a few plain fields: aliases only serve the billion-laughs expansion."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML 别名（&/*）不允许出现在文章信息里")
        return super().compose_node(parent, index)


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
    if len(match["yaml"]) > MAX_FRONT_MATTER:
        raise IngestError(source, f"文章信息（YAML 头）太长，上限 {MAX_FRONT_MATTER} 字")
    try:
        data = yaml.load(match["yaml"], Loader=_NoAliasLoader) or {}
    except yaml.YAMLError as exc:
        raise IngestError(source, f"文章信息（YAML 头）格式错误：{exc}") from exc
    if not isinstance(data, dict):
        raise IngestError(source, "文章信息（YAML 头）应是“键: 值”的形式")
    return data, text[match.end() :]
