"""Records every reader produces, so later stages never care which file format an article came from."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Article:
    article_id: str
    title: str
    paragraphs: list[str]
    source: str
    kicker: str = ""
    place: str = ""
    date: str = ""
    byline: str = ""
    author: str = ""
    url: str = ""
    kind: str = "article"  # "article" or "caption"
    meta: dict = field(default_factory=dict)
    # the administrative divisions the article is about, full names from the gazetteer (bot/ingest/places.py)
    province: str = ""
    city: str = ""
    county: str = ""
    town: str = ""


class IngestError(Exception):
    """A file that could not be read; the message names the file so an admin can fix it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
