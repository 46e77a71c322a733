"""What kind of figure a question asks for (几台/多少盏/多长/哪一年), as a pattern a passage must match."""

from __future__ import annotations

import re
from collections.abc import Iterable

_MEASURE = re.compile(r"(?<!哪)(?:几|多少)([\u4e00-\u9fff])")
_MEASURE_ALIASES = {"钱": "元"}
_COLLOQUIAL_YUAN = re.compile(r"(?:几|多少)块钱")
_UNIT_FORMS = {"元": "[美港欧日韩澳台]?元", "号": "[号日]"}  # “77亿美元” is money too; 几号 is answered by 10日
COUNTABLE = frozenset("个名位人户次条项台辆盏眼份篇场处所家座只头届批套册件支本张间栋株棵期轮组队")
MEASURE_WORDS = COUNTABLE | frozenset("亩斤吨元米年月天日岁号")
_KINDRED = ("名位人", "家所座处", "次场期轮届", "条项件")
_PEOPLE = re.compile(r"(?<!哪)(?:几|多少)个人")
_COUNT_NOUN = re.compile(r"([天次户岁人])数(?![据字码学])")  # 驻村天数、参会人数: a count asked as a noun
_OTHER_GE = re.compile(r"(?<!哪)(?:几|多少)个(?!人)")


def measure_words(question: str) -> set[str]:
    """“多少盏路灯” asks for a count of 盏: text with “1687盏” has the answer type wanted.

    People count things with 个 whatever the text says (“多少个坑塘” … “58处”), and the text may use 个 where the
    question says 家 (“合作社102个”): countable classifiers accept 个 and their kin; units (亩, 元, 年) stay strict.
    """
    asked = {_MEASURE_ALIASES.get(m.group(1), m.group(1)) for m in _MEASURE.finditer(question)} & MEASURE_WORDS
    nouns = {m.group(1) for m in _COUNT_NOUN.finditer(question)}
    asked |= nouns - {"人"}
    if _COLLOQUIAL_YUAN.search(question):
        asked.add("元")
    people = (bool(_PEOPLE.search(question)) or "人" in nouns) and not _OTHER_GE.search(question)
    if people:
        asked.discard("个")
    words = set(asked)
    for word in asked & COUNTABLE:
        words |= COUNTABLE if word == "个" else {"个", *next((g for g in _KINDRED if word in g), "")}
    if people:  # “评委几个人” counts people: “7名”“12人”“3个人”, never “三个环节”
        words = (words - {"个"}) | {"名", "位", "人", "个人"}
    return words


def _count_regex(measures: Iterable[str], lone_one: bool = True) -> str:
    """A number followed by one of the measure words (“8.6万余户”, “1600余份”); “2021年” is a date, not a count.

    Without `lone_one`, a bare 一 is not a number: “一位群众代表说” names somebody, it does not count people.
    """
    one = "" if lone_one else r"(?!一[^\d一二两三四五六七八九十百千万])"
    number = rf"(?<!\d)(?!(?:19|20)\d\d年){one}(?:\d[\d.,]*|[一二两三四五六七八九十百千万]+)"
    units = "|".join(_UNIT_FORMS.get(m, re.escape(m)) for m in sorted(measures, key=len, reverse=True))
    return rf"{number}\s*[余多]?\s*[十百千万亿]?\s*[余多]?\s*(?:{units})"


_MONEY = r"(?:补贴|补助|工资|薪酬|经费|资金|资本|奖金|报酬|费用)"
_FEE = r"(?<![免浪经])费(?![时力劲心用])"  # 物业费、党费: a price, or the share of it collected
_DURATION = re.compile(r"多长时间|多久")
_QUANTITIES = (
    (_DURATION, ("年", "个月", "月", "天", "日", "小时", "分钟", "周")),
    (re.compile(r"多长|多远"), ("公里", "千米", "km", "米", "里")),
    (re.compile(r"多大面积|面积多大|多少面积"), ("平方公里", "平方米", "亩", "公顷")),
    (re.compile(r"多重"), ("吨", "公斤", "千克", "斤")),
)


def _asked(word: str) -> re.Pattern:
    """The word asked about as 多少/几, in either order within the clause (补贴多少 / 多少补贴)."""
    return re.compile(rf"{word}[^，。？?]{{0,6}}(?:多少|几)|(?:多少|几)[^，。？?]{{0,3}}{word}")


# 补贴/经费/注册资本 asked as 多少 is an amount of money, unless the question counts something else (几次)
_MONEY_ASKED = _asked(_MONEY)
_FEE_ASKED = _asked(_FEE)
_HOW_OFTEN = re.compile(r"(?:多长时间|多久|几[天周月年])[^，。？?]*一[次回趟]")
_EVERY = r"每[一两二三四五六七八九十半\d]*个?(?:年|季度|季|月|周|星期|天|日)"
_PERCENT = r"\d[\d.]*\s*[%％]|百分之"
# 哪天 and 啥时候开门 want a day of the month or week (每月15日、每周六、每月最后一个星期六), however the text counts it
_WHICH_DAY = re.compile(r"哪[一几]?天|哪日|每[周月]\w{0,2}(?:啥|什么)时候|(?:啥|什么)时[候间](?:开门|开放|营业)")
_DAY = r"\d+\s*[日号]|[一二三四五六七八九十]+[日号]|(?:周|星期|礼拜)[一二三四五六日天末]"
_WHICH_YEAR = re.compile(r"哪一?年")
_YEAR = r"(?<!\d)\d{3,4}年"


def answer_pattern(question: str) -> re.Pattern | None:
    """What the answering text must contain for questions that ask for a count, size, frequency or year.

    “多少盏路灯” wants “1687盏”, “多长的路” wants “60.9公里”, “多长时间…一次” wants “每季度”, “哪一年” wants “2018年”.
    """
    parts = []
    measures = measure_words(question)
    if measures:
        parts.append(_count_regex(measures, lone_one="个人" not in measures))
    elif _MONEY_ASKED.search(question):
        parts.append(_count_regex(("元",)))
    elif _FEE_ASKED.search(question):  # “物业费能收上来多少” may be answered by the share collected
        parts += [_count_regex(("元",)), _PERCENT]
    often = bool(_HOW_OFTEN.search(question))
    for asked, units in _QUANTITIES:
        if asked.search(question) and not (often and asked is _DURATION):
            parts.append(_count_regex(units))
            break
    if often:  # “多久去一趟” asks how often, not how long
        parts.append(_EVERY)
    if _WHICH_DAY.search(question):
        parts.append(_DAY)
    if _WHICH_YEAR.search(question):
        parts.append(_YEAR)
    return re.compile("|".join(parts)) if parts else None


_COUNTED = re.compile(r"(?<!哪)(?:几|多少)([\u4e00-\u9fff]{1,8}?)(?=[？?，,。！!；;、\s]|呢|啊|吗|$)")


def counted_thing(question: str) -> tuple[str, ...]:
    """What “摘了多少苹果 / 推选了多少个党员楼栋长” counts, as a text may name it (苹果; 个党员楼栋长, 党员楼栋长).
    Empty when only a measure word follows (几户、几个人)."""
    match = _COUNTED.search(question)
    thing = match.group(1) if match else ""
    bare = thing[1:] if thing[:1] in MEASURE_WORDS else thing
    if not bare or bare in MEASURE_WORDS:
        return ()
    return tuple(dict.fromkeys((thing, bare)))
