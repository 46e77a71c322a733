"""What members asked that the corpus could not answer: refused questions and answers voted down, grouped
into topics so an admin sees which articles to add, and exported as eval questions.

Two questions share a topic when they share enough of their meaningful characters (`content_chars`, the
measure the searcher already uses for paraphrases: 金寨积分超市 and 金寨县的积分超市怎么兑换 meet where
whole words would not), unless they name different places: the article to add is about one place, and
金寨县 is not 金乡县 however alike the rest reads. Topics are the connected groups of that relation. Channel-neutral:
the rendering is in `replies`, the storage in `store`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

import jieba

from bot.ingest.places import gazetteer
from bot.retrieval.segment import STOPWORDS, content_chars, normalize

SIMILAR = 0.4  # Jaccard of content characters from which two questions are about the same thing
LABEL_WORDS = 3


class Why(StrEnum):
    REFUSED = "refused"
    VOTED_DOWN = "voted_down"


@dataclass(frozen=True)
class Gap:
    question: str
    asked_at: float  # Unix seconds
    chat_id: int | None
    why: Why
    shown: str = ""  # the passage a voted-down answer showed


@dataclass(frozen=True)
class Topic:
    gaps: tuple[Gap, ...]  # newest first
    label: str  # the words most of its questions share ("" when they share none)

    @property
    def newest(self) -> float:
        return self.gaps[0].asked_at

    def count(self, why: Why) -> int:
        return sum(g.why is why for g in self.gaps)


def places(question: str) -> frozenset[str]:
    """The places a question names, as gazetteer codes (金寨 and 金寨县 are one place)."""
    g = gazetteer()
    return frozenset(p.code for p in g.resolve(g.find(question)))


def topics(gaps: list[Gap]) -> list[Topic]:
    """Connected groups of similar questions (single link), each newest first; the topic asked most
    recently comes first."""
    ordered = sorted(gaps, key=lambda g: g.asked_at, reverse=True)
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    chars = [content_chars(g.question) for g in ordered]
    named = [places(g.question) for g in ordered]
    for i in range(len(ordered)):
        for j in range(i):
            if named[i] and named[j] and named[i] != named[j]:
                continue
            if _jaccard(chars[i], chars[j]) >= SIMILAR:
                parent[root(i)] = root(j)
    groups: dict[int, list[Gap]] = {}
    for i, gap in enumerate(ordered):
        groups.setdefault(root(i), []).append(gap)
    found = [Topic(tuple(members), _label(members)) for members in groups.values()]
    return sorted(found, key=lambda t: t.newest, reverse=True)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _label(members: list[Gap]) -> str:
    """Words at least half of the questions use, most used first; none for a topic of one question."""
    if len(members) < 2:
        return ""
    words = [{w for w in jieba.cut(normalize(g.question)) if len(w) >= 2 and w not in STOPWORDS} for g in members]
    counts = Counter(w for ws in words for w in ws)
    newest = normalize(members[0].question)
    ranked = sorted(counts, key=lambda w: (-counts[w], newest.find(w) % (len(newest) + 1), w))
    shared = [w for w in ranked if counts[w] * 2 >= len(members)]
    return "、".join(shared[:LABEL_WORDS])


def to_jsonl(found: list[Topic], day: str) -> str:
    """The eval format (`python -m bot eval`): gold is empty until someone adds the article and fills it in;
    a refused question is kind "outside" (what the bot does today), a voted-down one kind "review"."""
    lines = []
    for t, topic in enumerate(found, start=1):
        for n, gap in enumerate(topic.gaps, start=1):
            row = {
                "id": f"gap-{day}-{t:03d}-{n:02d}",
                "question": gap.question,
                "gold": [],
                "kind": "outside" if gap.why is Why.REFUSED else "review",
                "topic": topic.label or gap.question,
                "why": str(gap.why),
                "asked_at": dt.datetime.fromtimestamp(gap.asked_at, dt.UTC).isoformat(timespec="seconds"),
            }
            if gap.shown:
                row["shown"] = gap.shown
            lines.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")
