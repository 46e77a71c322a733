"""Chinese text helpers shared by passage splitting and answer extraction."""

from __future__ import annotations

import re

HEADING_CHARS = 14
LEAD_CHARS = 24
_DIGIT = re.compile(r"\d")
_REMARK = re.compile(r"^[“\"「].{4,}?[”\"」][^。！？]{0,20}?(?:说|表示|介绍|告诉记者|感慨)")
# an ASCII full stop ends a sentence only before a space or the end: "3.5" and "www.gov.cn" stay whole
_SENTENCE = re.compile(r".+?(?:[。！？!?；;]+[”’」』）)]*|\.+[\"')]*(?=\s|$)|…{1,2}[”’」』]*|$)", re.S)


def split_sentences(text: str) -> list[str]:
    """Sentences keep their closing punctuation and quotes so they can be shown verbatim."""
    return [s for s in (m.group(0).strip() for m in _SENTENCE.finditer(text)) if s]


def _leads_in(position: int, sentence: str) -> bool:
    return len(sentence) <= (LEAD_CHARS if position == 0 else HEADING_CHARS)


def sentence_units(text: str) -> list[str]:
    """A lead-in like “实行“3+1”帮带制。” says nothing alone; it travels with the sentence after it."""
    units: list[str] = []
    carry = ""
    for position, sentence in enumerate(split_sentences(text)):
        if _leads_in(position, sentence):
            carry += sentence
            continue
        units.append(carry + sentence)
        carry = ""
    if carry and units:
        units[-1] += carry
    elif carry:
        units.append(carry)
    return units


def opening_heading(text: str) -> str:
    """“定期总结，“月度述职”抓推进。” opening a passage of several units titles them all: context, not an answer.

    A heading is short and states no figure; “玉米成熟较早。” or “共反馈问题5条。” are facts, whatever their length.
    """
    sentences = split_sentences(text)
    first = sentences[0] if sentences else ""
    if len(first) > HEADING_CHARS + 4 or _DIGIT.search(first) or len(sentence_units(text)) < 2:
        return ""
    return first


def opens_with_remark(text: str) -> bool:
    """“分数挂在墙上，谁也不好意思落后。”李哲说，…: a paragraph that opens with someone's words brings the
    report's colour, and the words it shares with a question seldom make it the answer."""
    return bool(_REMARK.search(text))


def squash(text: str) -> str:
    """All whitespace removed: how eval compares gold substrings with passages."""
    return re.sub(r"\s+", "", text)
