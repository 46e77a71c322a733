"""Names a question carries: a quoted name no article carries is refused with the name in the reply, a close
practice comes only labelled as something else. Keyword-only indexes built from small real corpora (no model)."""

from __future__ import annotations

import pytest

from bot.chat.replies import PLAIN, refusal
from bot.retrieval.answer import answer
from bot.retrieval.coverage import Coverage
from bot.retrieval.names import question_names, quoted_names, settlements
from bot.retrieval.search import Searcher
from bot.retrieval.segment import Segmenter
from tests.conftest import small_searcher

ARTICLES = {
    "jinxiang.md": "---\ntitle: 金乡积分超市兑出文明新风\nplace: 金乡县\n---\n\n"
    "今年以来，金乡县推行党员“积分超市”，党员参加志愿服务可以积分。\n\n积分每月10日集中兑换一次，可换洗衣粉、食用油。\n",
    "zoucheng.md": "---\ntitle: 邹城擂台比武\nplace: 邹城市\n---\n\n"
    "邹城按照“书记讲给书记听、书记跟着书记学”的理念开展观摩。\n\n各村书记轮流上台，评委现场打分。\n",
}


@pytest.fixture(scope="module")
def searcher(tmp_path_factory) -> Searcher:
    return small_searcher(tmp_path_factory.mktemp("quoted"), texts=ARTICLES)


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("“书记讲给书记听”是在什么活动里提出的？", ["书记讲给书记听"]),
        ('"三会一课"制度包括哪些内容？', ["三会一课"]),
        ("「两卡一册」和‘五定’指什么？", ["两卡一册", "五定"]),
        ("金乡“3+1”帮带制怎么运作？", []),  # no Chinese name in the quotes
        ("他说“好”。", []),
        ("“积分 超市，”怎么兑换？", ["积分超市"]),  # spaces and trailing punctuation are not part of a name
    ],
)
def test_quoted_names(question: str, names: list[str]) -> None:
    assert quoted_names(question) == names


def test_a_quoted_name_no_article_carries_is_refused_and_named(searcher: Searcher) -> None:
    result = answer("“三会一课”制度包括哪些内容？", searcher)
    assert result.abstained and result.reason == "absent_name" and result.absent == ["三会一课"]
    text = refusal(result, PLAIN)
    assert text.startswith("资料库里没有提到“三会一课”的报道") and "相近的内容" not in text


def test_a_close_practice_to_an_unknown_name_is_labelled_as_not_it(searcher: Searcher) -> None:
    """“积分银行” is not in the corpus; 金乡's 积分 practice is offered, as a close one and not as the answer."""
    result = answer("“积分银行”的积分每月几号兑换？", searcher)
    assert result.abstained and result.reason == "absent_name" and result.absent == ["积分银行"]
    text = refusal(result, PLAIN)
    assert text.startswith("资料库里没有提到“积分银行”的报道")
    assert "相近的内容" in text and "不是“积分银行”" in text and "每月10日集中兑换一次" in text


def test_naming_finds_the_articles_that_carry_a_name(searcher: Searcher) -> None:
    index = searcher.index
    zoucheng = {p.article_id for p in index.passages if "邹城" in p.title}
    assert index.naming("书记讲给书记听") == zoucheng
    assert index.naming("书记讲给书记学") == set()  # verbatim or not at all
    assert len(index.naming("书记")) == 1  # every passage of an article counts once
    assert len(index.naming("，")) == 2 and len(index.naming("，", limit=0)) == 1  # stops past the limit


def test_a_name_in_traditional_characters_is_found(searcher: Searcher) -> None:
    """The haystack is simplified like the question: “積分超市” is 金乡's “积分超市”."""
    result = answer("“積分超市”每月幾號兌換？", searcher)
    assert not result.abstained and result.passage is not None and "每月10日" in result.passage.text


def test_question_names_are_quotes_places_and_settlements() -> None:
    question = "浏阳淮川街道的“一站式”服务和朱家营村的光伏电站"
    places = Coverage(frozenset(), frozenset()).read(question).surfaces  # what search passes: the gazetteer's finds
    names = question_names(question, places)
    assert {"浏阳", "淮川街道", "一站式", "朱家营村"} <= names
    settlements_read = names - {"浏阳", "一站式"}  # the rest are readings of the two places before 街道 / 村
    assert all(name.endswith(("街道", "村")) for name in settlements_read)


def test_a_village_jieba_cuts_apart_is_still_read() -> None:
    """jieba reads 渔子/溪村; every left edge is offered, the article decides which one it carries."""
    question = "渔子溪村的文明实践站拉起了哪些志愿队伍？"
    assert "溪村" in Segmenter().tokens(question) and "渔子溪村" not in Segmenter().tokens(question)
    assert settlements(question) == {"渔子溪村", "子溪村"}
    assert settlements("红安祝家楼村党员") >= {"祝家楼村", "红安祝家楼村"}
    assert settlements("文明实践站拉起了哪些志愿队伍？") == set()  # no 村/镇/乡/社区…, no reading


def test_the_first_absent_quoted_name_is_enough_to_refuse(searcher: Searcher) -> None:
    """Each absent name costs a scan of the whole corpus: a question quoting a hundred made-up names pays one."""
    question = "".join(f"“虚构做法{chr(0x4E00 + i)}{chr(0x4E80 + i)}”" for i in range(100)) + "是什么？"
    result = answer(question, searcher, max_chars=2000)
    assert result.abstained and result.reason == "absent_name" and result.absent == quoted_names(question)[:1]
