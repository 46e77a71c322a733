"""Chinese text helpers shared by passage splitting and answer extraction."""
from __future__ import annotations

import re

_SENTENCE = re.compile(r".+?(?:[。！？!?；;]+[”’」』）)]*|…{1,2}[”’」』]*|$)", re.S)


def split_sentences(text: str) -> list[str]:
    """Sentences keep their closing punctuation and quotes so they can be shown verbatim."""
    return [s for s in (m.group(0).strip() for m in _SENTENCE.finditer(text)) if s]


def squash(text: str) -> str:
    """All whitespace removed: how eval compares gold substrings with passages."""
    return re.sub(r"\s+", "", text)
