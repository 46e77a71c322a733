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
_SETTLEMENT = ("村", "镇", "乡", "寨", "屯", "街道", "社区")


def quoted_names(question: str) -> list[str]:
    """The quoted phrases with at least two Chinese characters, unspaced (how the index looks them up)."""
    names = (squash(m.group(1)).strip(_EDGE) for m in _QUOTED.finditer(question))
    return list(dict.fromkeys(n for n in names if len(_HAN.findall(n)) >= 2))


def question_names(question: str, words: list[str], places: Iterable[str]) -> set[str]:
    """Quoted names, the places the gazetteer found (`places`, as written), and the villages and towns jieba
    reads as one word (`words`: the question's tokens)."""
    names = set(quoted_names(question)) | set(places)
    return names | {w for w in words if len(w) >= 3 and w.endswith(_SETTLEMENT)}
