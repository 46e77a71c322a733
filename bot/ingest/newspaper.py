"""Parser for text dumped from a newspaper page PDF.

The dump reads column by column: lines are wrapped at column width, a paragraph may continue
after a blank line at a column break, each article starts at its byline (`本报嘉祥讯（通讯员 …）`
or `■本报通讯员 …`) and its kicker/title lines come *after* its body. Photo captions are
a paragraph followed by a `■通讯员 … 摄` credit line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.ingest.records import Article
from bot.ingest.text import (
    INLINE_BYLINE,
    MARKED_BYLINE,
    PHOTO_CREDIT,
    byline_author,
    check_chinese,
    clean_paragraph,
    clean_title,
    date_from_filename,
    derive_place,
    ends_sentence,
    first_clause,
    join_lines,
    read_text,
    split_byline,
)

MAX_HEADING_LINE = 40
MAX_HEADING_LINES = 3
_WORDY = re.compile(r"\w")
_HEADING_FORBIDDEN = re.compile(r"[，。；！？,;!?]")
_SECTION_TAG = re.compile(r"^●[^，。；！？,;!?\s]{1,15}$")
_JUMP_FURNITURE = re.compile(r"^[（(]?(?:上|下)转第.{1,3}版[）)]?$|^[（(]?接第.{1,3}版[）)]?$")
_DOUBLED = re.compile(r"^(.{3,})\1$")


@dataclass
class _Unit:
    kind: str  # "byline" | "credit" | "head" | "para"
    text: str = ""
    lines: list[str] = field(default_factory=list)
    caption_tail: bool = False


@dataclass
class _Draft:
    byline: str = ""
    byline_place: str = ""
    paragraphs: list[str] = field(default_factory=list)
    heads: list[list[str]] = field(default_factory=list)


def read_newspaper(path: Path, source: str) -> list[Article]:
    """Reader for `.txt` page dumps; the issue date comes from the file name when it carries one."""
    return parse_page(read_text(path, source), source, date_from_filename(path.name))


def parse_page(text: str, source: str, date: str = "") -> list[Article]:
    """Split one page dump into articles and photo captions, in page order."""
    check_chinese(text, source)
    units = _units(_blocks(text))
    known = frozenset(_unit_places(units))
    return _Assembler(source, date, known).run(units)


def _is_furniture(line: str) -> bool:
    """Section tags (`●政策发布平台`), jump lines and the fake-bold banner whose every word is printed twice."""
    if _SECTION_TAG.match(line) or _JUMP_FURNITURE.match(line):
        return True
    words = line.split()
    return bool(words) and all(_DOUBLED.match(word) for word in words)


def _is_marked(line: str) -> bool:
    return bool(PHOTO_CREDIT.match(line) or MARKED_BYLINE.match(line))


def _blocks(text: str) -> list[list[str]]:
    """Blank-line separated line groups; a byline or ■ line always opens its own group."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for raw in text.replace("\x0c", "\n\n").splitlines():
        line = raw.strip()
        if line and _is_furniture(line):
            continue
        if not line or INLINE_BYLINE.match(line) or _is_marked(line):
            if current:
                blocks.append(current)
            current = []
        if line:
            current.append(line)
        if _is_marked(line):
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _is_heading(lines: list[str]) -> bool:
    """Titles and kickers are a few short lines with no sentence punctuation at all."""
    return (
        len(lines) <= MAX_HEADING_LINES
        and all(len(line) <= MAX_HEADING_LINE for line in lines)
        and not _HEADING_FORBIDDEN.search("".join(lines))
    )


def _units(blocks: list[list[str]]) -> list[_Unit]:
    units: list[_Unit] = []
    for lines in blocks:
        text = join_lines(lines)
        if PHOTO_CREDIT.match(text):
            units.append(_Unit("credit", text.lstrip("■").strip()))
        elif MARKED_BYLINE.match(text):
            units.append(_Unit("byline", text.lstrip("■").strip()))
        elif INLINE_BYLINE.match(text):
            byline, _place, rest = split_byline(text)
            units.append(_Unit("byline", byline))
            if rest:
                units.append(_Unit("para", rest))
        elif _is_heading(lines):
            units.append(_Unit("head", lines=lines))
        else:
            units.append(_Unit("para", text))
    for unit, nxt in zip(units, units[1:]):
        unit.caption_tail = unit.kind == "para" and nxt.kind == "credit"
    return units


def _unit_places(units: list[_Unit]) -> set[str]:
    """Places named by this page's bylines, so a title like `嘉祥：…` can be placed without a gazetteer."""
    return {split_byline(u.text)[1] for u in units if u.kind == "byline"} - {""}


def _title_text(lines: list[str]) -> str:
    return clean_title(join_lines(lines))


class _Assembler:
    """Walks the units once: bylines open articles, headings close them, credits peel off captions."""

    def __init__(self, source: str, date: str, known: frozenset[str]) -> None:
        self.source = source
        self.date = date
        self.known = known
        self.items: list[Article] = []
        self.draft = _Draft()
        self.leading_heads: list[list[str]] = []

    def run(self, units: list[_Unit]) -> list[Article]:
        handlers = {"byline": self._byline, "head": self._head, "para": self._para, "credit": self._credit}
        for unit in units:
            handlers[unit.kind](unit)
        self._flush()
        return self.items

    def _byline(self, unit: _Unit) -> None:
        self._flush()
        self.draft = _Draft(byline=unit.text, byline_place=split_byline(unit.text)[1])

    def _head(self, unit: _Unit) -> None:
        if self.draft.paragraphs:
            self.draft.heads.append(unit.lines)
        elif not self.items and not self.draft.byline:
            self.leading_heads.append(unit.lines)

    def _para(self, unit: _Unit) -> None:
        if self.draft.heads:
            self._flush()
        paragraphs = self.draft.paragraphs
        if paragraphs and not unit.caption_tail and not ends_sentence(paragraphs[-1]):
            paragraphs[-1] = join_lines([paragraphs[-1], unit.text])
        else:
            paragraphs.append(unit.text)

    def _credit(self, unit: _Unit) -> None:
        """The paragraph right before a photo credit is the caption; a cut-off lone paragraph before it is its start."""
        paragraphs = self.draft.paragraphs
        if not paragraphs:
            return
        caption = paragraphs.pop()
        if len(paragraphs) == 1 and not self.draft.byline and not ends_sentence(paragraphs[0]):
            caption = join_lines([paragraphs.pop(), caption])
        self._emit_caption(clean_paragraph(caption), unit.text)

    def _flush(self) -> None:
        draft, self.draft = self.draft, _Draft()
        if not draft.paragraphs:
            return
        leading, self.leading_heads = self.leading_heads, []
        heads = draft.heads or leading
        paragraphs = [p for p in map(clean_paragraph, draft.paragraphs) if _WORDY.search(p)]  # not bare punctuation
        if not paragraphs:
            return
        title = _title_text(heads[-1]) if heads else first_clause(paragraphs[0])
        kicker = "".join(_title_text(lines) for lines in heads[:-1])
        county, town = derive_place([t for t in (kicker, title) if t], self.known)
        meta: dict[str, object] = {"town": town} if town else {}
        if not heads:
            meta["title_inferred"] = True
        self._emit(
            title=title,
            paragraphs=paragraphs,
            kicker=kicker,
            place=draft.byline_place or county,
            byline=draft.byline,
            meta=meta,
        )

    def _emit_caption(self, text: str, credit: str) -> None:
        county, town = derive_place([text], self.known)
        self._emit(
            title=first_clause(text),
            paragraphs=[text],
            place=county,
            byline=credit,
            kind="caption",
            meta={"town": town} if town else {},
        )

    def _emit(
        self,
        *,
        title: str,
        paragraphs: list[str],
        byline: str,
        place: str,
        meta: dict[str, object],
        kicker: str = "",
        kind: str = "article",
    ) -> None:
        self.items.append(
            Article(
                article_id=f"{self.source}#{len(self.items)}",
                title=title,
                paragraphs=paragraphs,
                source=self.source,
                place=place,
                date=self.date,
                byline=byline,
                author=byline_author(byline),
                kicker=kicker,
                kind=kind,
                meta=meta,
            )
        )
