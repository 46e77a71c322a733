"""Which places the corpus is about, and which places a question names that it is not.

"金寨县的积分超市每月兑换几次？" over a corpus that reports 金乡县's would otherwise be answered from 金乡县
with a confident citation: the words match, only the place does not. The gazetteer tells the two apart and
knows 南京的鼓楼区 is not 开封的鼓楼区; names it does not list (a former county such as 邹县, a made-up
汶水县) count when jieba's dictionary reads them, or the word before 县, as a place name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import accumulate

import jieba

from bot.ingest.places import Mention, Place, closest, context_of, gazetteer, place_word, to_simplified
from bot.retrieval.passages import Passage

_SETTLEMENT_WORDS = frozenset([*"村坝镇乡街组屯寨湾沟庄岭峪店铺营堡", "社区", "街道"])
_NOT_A_COUNTY = frozenset(
    "全县 本县 该县 各县 我县 每县 外县 邻县 郡县 州县 一县 两县 县县 乡县 市县 区县 省县 百强县".split()
)


@dataclass(frozen=True)
class QuestionPlaces:
    absent: list[str]  # places named that no article is about (or names), as a reply names them
    named: set[str]  # covered places named, as the full names passages carry
    surfaces: frozenset[str] = frozenset()  # every place name the gazetteer found, as written in the question


@dataclass(frozen=True)
class Coverage:
    names: frozenset[str]  # every province, city, county and town an article is about, and its place field
    regions: frozenset[tuple[str, ...]]  # the same with their parents: 开封's 鼓楼区 is not 南京's
    mentioned: frozenset[str] = frozenset()  # gazetteer codes of places the articles' text names (mentioned_places)

    @classmethod
    def of(cls, passages: Iterable[Passage], mentioned: Iterable[str] = ()) -> Coverage:
        names: set[str] = set()
        regions: set[tuple[str, ...]] = set()
        for p in passages:
            names.update(n for n in (p.province, p.city, p.county, p.town, p.place) if n)
            chain = tuple(n for n in (p.province, p.city, p.county, p.town) if n)
            regions.update(chain[:i] for i in range(1, len(chain) + 1))
        return cls(frozenset(names), frozenset(regions), frozenset(mentioned))

    def read(self, question: str, carried: Callable[[str], bool] = lambda name: False) -> QuestionPlaces:
        """What a question says about places, from one pass of the gazetteer over it.

        `carried` tells whether the articles' text names a county the gazetteer does not list (南田县 of 1913):
        such a name is absent only when no article carries it.
        """
        simple = to_simplified(question)
        # a short form before the word 村/社区 names a village (青龙村), whatever county shares the name; before
        # 村支书 or 村民 it is still the county (红安村支书)
        words = list(jieba.cut(simple, HMM=False))
        starts = dict(zip(accumulate((len(w) for w in words), initial=0), words))
        found = gazetteer().find(simple, words=words)
        mentions = [m for m in found if m.full or starts.get(m.end, "") not in _SETTLEMENT_WORDS]
        context = context_of(mentions)
        return QuestionPlaces(
            self._absent(words, mentions, carried), self._named(mentions, context), frozenset(m.surface for m in found)
        )

    def _absent(self, words: list[str], mentions: list[Mention], carried: Callable[[str], bool]) -> list[str]:
        """The places the question names that no article is about, as a reply should name them.

        Once the question names a covered place, other names in it are read as places inside or around it
        (红安长丰村, 新县在苏州的驿站) unless written in full as a county.
        """
        context = context_of(mentions)
        judged = [(m, self._missing(m, context)) for m in mentions]
        scoped = any(place is None for _, place in judged)
        kept = [(m, p) for m, p in judged if p is not None and (not scoped or (m.full and _county_level(m)))]
        cities = {p.name: m.surface for m, p in kept if isinstance(p, Place) and p.level == 2}
        missing = []
        for _, place in kept:
            if isinstance(place, Place) and place.level == 3 and place.city in cities:
                missing.append(cities[place.city] + place.name)  # 南京鼓楼区, one place, not two
            elif not (isinstance(place, Place) and place.level == 2 and place.name in _named_cities(kept)):
                missing.append(place.name if isinstance(place, Place) else place)
        spans = [(m.start, m.end) for m in mentions]
        at = 0
        for word, after in zip(words, [*words[1:], ""]):
            start, at = at, at + len(word)
            county = word if word.endswith("县") else word + after if after == "县" and len(word) <= 3 else ""
            if not 2 <= len(county) <= 4 or county in _NOT_A_COUNTY or county in self.names:
                continue
            if place_word(word) and not scoped and not any(a < at and start < b for a, b in spans):
                if not carried(county):  # a full scan when absent: one such name is reason enough
                    missing.append(county)
                    break
        return list(dict.fromkeys(missing))

    def _named(self, mentions: list[Mention], context: set[str]) -> set[str]:
        """The covered places the question names, as the full names passages carry (county, town, place)."""
        found: set[str] = set()
        for mention in mentions:
            covered = [p for p in closest(mention, context) if self._covers(p)]
            found.update(p.name for p in covered)
            if not covered and mention.surface in self.names:
                found.add(mention.surface)
        return found

    def _missing(self, mention: Mention, context: set[str]) -> Place | str | None:
        """None when the corpus covers the place; else the place (or, when still ambiguous, the name)."""
        candidates = closest(mention, context)
        if any(self._covers(p) for p in candidates):
            return None
        if mention.surface in self.names and len(candidates) == len(mention.places):
            return None  # a place field written the way the question writes it (嘉祥)
        return candidates[0] if len(candidates) == 1 else mention.surface

    def _covers(self, place: Place) -> bool:
        if place.code in self.mentioned:
            return True
        chain = tuple(n for n in (place.province, place.city, place.county) if n)
        if place.level == 4:  # a town the articles do not name, inside a county they cover, is not absent
            return chain in self.regions or (*chain, place.name) in self.regions
        return chain in self.regions


def mentioned_places(passages: Iterable[Passage]) -> list[str]:
    """Codes of the places the articles' text names, each resolved in its article's context (开封's own 鼓楼区).

    A question about 北京 is not about an absent place when an article talks about 北京, even if no article is
    about it; so the build records every place named, not only where each article is from. Built once per
    index build: finding names in every passage costs too much per question.
    """
    by_article: dict[str, list[Passage]] = {}
    for passage in passages:
        by_article.setdefault(passage.article_id, []).append(passage)
    codes: set[str] = set()
    g = gazetteer()
    for group in by_article.values():
        first = group[0]
        mentions = g.find("\n".join(p.text for p in group))
        context = {n for n in (first.province, first.city, first.county) if n}
        context |= context_of(mentions)
        for mention in mentions:
            candidates = closest(mention, context)
            if len(candidates) == 1:
                codes.add(candidates[0].code)
    return sorted(codes)


def _named_cities(kept: list[tuple[Mention, Place | str]]) -> set[str]:
    """Cities only named as the parent of a missing county: the county's label carries them."""
    return {p.city for _, p in kept if isinstance(p, Place) and p.level == 3}


def _county_level(mention: Mention) -> bool:
    return any(p.level == 3 for p in mention.places)
