"""The names a question carries: practice names it quotes (“三会一课”) and the places it names down to the village.

A member who quotes a name has copied it from somewhere. When no article carries it the corpus does not
report that practice, and an answer assembled from the words around it would be about something else; when
articles carry it, they are what the question is about.

A name identifies an article, not a paragraph: “朱家营村建光伏电站，挣的钱怎么分？” names the village in the
paragraph that tells the plan, while the paragraph on sharing the income does not repeat it. Every paragraph
of an article that carries a name is credited with it, so the paragraph that answers competes on what is asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.retrieval.sentences import squash

QUOTES = re.compile(r"[“”\"「」『』‘’]")
_QUOTED = re.compile(r"[“\"「『‘]([^“”\"「」『』‘’\n]{2,24})[”\"」』’]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_EDGE = "，。、！？；：,.!?;: "
_SETTLEMENT = re.compile(r"村|镇|乡|寨|屯|街道|社区")
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def quoted_names(question: str) -> list[str]:
    """The quoted phrases with at least two Chinese characters, unspaced (how the index looks them up)."""
    names = (squash(m.group(1)).strip(_EDGE) for m in _QUOTED.finditer(question))
    return list(dict.fromkeys(n for n in names if len(_HAN.findall(n)) >= 2))


def question_names(question: str, places: Iterable[str]) -> set[str]:
    """Quoted names, the places the gazetteer found (`places`, as written), and the villages and towns."""
    return set(quoted_names(question)) | set(places) | settlements(question)


def settlements(question: str) -> set[str]:
    """Every reading of a village or town the question may name: two to five characters before 村/镇/社区….

    jieba cuts a name it does not know (渔子溪村 → 渔子/溪村), so the names are read off the characters, every
    left edge at once; only a reading an article carries counts for it, so the wrong edges cost nothing.
    """
    found: set[str] = set()
    for run in _HAN_RUN.findall(question):
        for m in _SETTLEMENT.finditer(run):
            found.update(run[start : m.end()] for start in range(max(m.start() - 5, 0), m.start() - 1))
    return found
