"""JSON Lines: one article per line `{"title","text","source","date"}` (+ place, author, url)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.ingest.records import Article, IngestError
from bot.ingest.single import build_article
from bot.ingest.text import read_text, split_paragraphs


def read_jsonl(path: Path, source: str) -> tuple[list[Article], list[IngestError]]:
    """A bad line is reported with its line number while the good lines of the same file still load."""
    articles: list[Article] = []
    errors: list[IngestError] = []
    for number, line in enumerate(read_text(path, source).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            articles.append(_parse_line(line, source, number))
        except IngestError as exc:
            errors.append(exc)
    if not articles and not errors:
        raise IngestError(source, "没有文章")
    return articles, errors


def _parse_line(line: str, source: str, number: int) -> Article:
    where = f"第 {number} 行"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise IngestError(source, f"{where}：不是有效的 JSON（{exc.msg}）") from exc
    if not isinstance(record, dict):
        raise IngestError(source, f"{where}：应是一个 JSON 对象")
    for key in ("title", "text"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise IngestError(source, f"{where}：缺少 {key!r} 或为空")
    try:
        return build_article(record, split_paragraphs(record["text"]), source, f"{source}#{number}")
    except IngestError as exc:
        raise IngestError(source, f"{where}：{exc.reason}") from exc
