"""A question naming a place no article is about is refused with that place named; a close practice elsewhere
is offered only as another place's. Keyword-only indexes built from small real corpora (no model)."""

from __future__ import annotations

import pytest

from bot.chat.replies import PLAIN, refusal
from bot.retrieval.answer import answer
from bot.retrieval.search import Searcher
from tests.conftest import small_searcher

ARTICLES = {
    "jinxiang.md": "---\ntitle: 金乡积分超市兑出文明新风\nplace: 金乡县\n---\n\n"
    "今年以来，金乡县推行党员积分超市，党员参加志愿服务可以积分。\n\n积分超市每月10日集中兑换一次，可换洗衣粉、食用油等生活用品。\n",
    "yishui.md": "---\ntitle: 沂水推行设岗定责\n---\n\n"
    "今年以来，沂水县院东头镇推行党员设岗定责，设立政策宣传岗、环境监督岗。\n\n镇上的党员认岗履职，每季度评议一次。\n",
    "gulou.md": "---\ntitle: 鼓楼区红色物业\n---\n\n"
    "开封市鼓楼区推行红色物业，社区党组织领导物业服务。\n\n全区选出党员楼栋长86名，每月开一次三方联席会。\n",
    "nantian.md": "---\ntitle: 海岛旧县的沿革\n---\n\n"
    "南田县设于清末，辖南田岛及周边岛屿，民国年间县治几经迁移。\n\n岛上居民以渔业为生，县里设有渔业公所。\n",
}


@pytest.fixture(scope="module")
def searcher(tmp_path_factory) -> Searcher:
    return small_searcher(tmp_path_factory.mktemp("coverage"), texts=ARTICLES)


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("金寨县的积分超市每月兑换几次？", ["金寨县"]),
        ("金寨的积分超市每月兑换几次？", ["金寨县"]),
        ("南京鼓楼区的红色物业有多少个党员楼栋长？", ["南京鼓楼区"]),
        ("邹县老小区搞红色物业了吗？", ["邹县"]),
        ("汶水县的积分超市每月兑换几次？", ["汶水县"]),  # no such county: jieba reads 汶水 as a place name
    ],
)
def test_an_absent_place_is_named_in_the_refusal(searcher: Searcher, question: str, named: list[str]) -> None:
    result = answer(question, searcher)
    assert result.abstained and result.reason == "absent_place" and result.absent == named
    text = refusal(result, PLAIN)
    assert text.startswith(f"资料库里没有关于{named[0]}的报道")


def test_a_close_practice_elsewhere_is_offered_as_another_places(searcher: Searcher) -> None:
    result = answer("金寨县的积分超市每月兑换几次？", searcher)
    text = refusal(result, PLAIN)
    assert "其他地方的类似做法" in text and "金乡县" in text and "不是金寨县的情况" in text
    assert "每月10日集中兑换一次" in text


@pytest.mark.parametrize(
    "question",
    [
        "金鄉縣積分超市每月幾號兌換？",
        "金乡的积分超市每月几号兑换？",
        "开封鼓楼区选了多少党员楼栋长？",
        "院东头镇党员多久评议一次？",
    ],
)
def test_covered_places_are_answered(searcher: Searcher, question: str) -> None:
    result = answer(question, searcher)
    assert result.reason != "absent_place", result.absent


def test_articles_without_a_place_field_get_one_from_the_gazetteer(searcher: Searcher) -> None:
    places = {p.title: (p.place, p.province, p.city, p.county, p.town) for p in searcher.index.passages}
    assert places["沂水推行设岗定责"] == ("沂水县", "山东省", "临沂市", "沂水县", "院东头镇")
    assert places["鼓楼区红色物业"][1:4] == ("河南省", "开封市", "鼓楼区")


def test_a_covered_place_whose_articles_do_not_tell_is_not_answered_from_another(searcher: Searcher) -> None:
    """沂水县 is covered, but only for 设岗定责: its name must not pass 金乡县's 积分超市 off as 沂水's."""
    result = answer("沂水县的积分超市每月几号兑换？", searcher)
    assert result.abstained and result.reason == "place_unanswered" and result.absent == ["沂水县"]
    text = refusal(result, PLAIN)
    assert text.startswith("资料库里关于沂水县的报道没有讲到这个问题")
    assert "其他地方的类似做法" in text and "不是沂水县的情况" in text and "每月10日集中兑换一次" in text


def test_a_town_only_the_text_names_counts_as_its_articles_place(searcher: Searcher) -> None:
    """No article is filed under 院东头镇, but 沂水's names it: that article answers for the town."""
    result = answer("院东头镇党员多久评议一次？", searcher)
    assert not result.abstained and result.passage is not None
    assert result.passage.county == "沂水县" and "每季度评议一次" in result.passage.text


def test_a_short_form_before_a_settlement_names_a_village_not_the_county(searcher: Searcher) -> None:
    """青龙村 is a village; 青龙满族自治县 is neither named nor absent."""
    places = searcher.index.coverage.read("青龙村的积分超市每月几号兑换？")
    assert places.named == set() and places.absent == []


def test_a_short_form_before_a_word_that_only_starts_with_village_is_the_county(searcher: Searcher) -> None:
    """红安村支书 is 红安县's village secretaries, not a village called 红安村."""
    assert searcher.index.coverage.read("沂水村支书每季度评议几次？").named == {"沂水县"}
    assert searcher.index.coverage.read("红安村支书擂台比武第一名是谁？").absent == ["红安县"]


@pytest.mark.parametrize(
    "question", ["贫困县怎么搞积分超市？", "示范县的积分超市怎么兑换？", "农业大县怎么搞积分超市？"]
)
def test_words_for_kinds_of_county_are_not_places(searcher: Searcher, question: str) -> None:
    """贫困县 is no county's name, and 范县 (a real county) is not inside 示范县."""
    assert searcher.index.coverage.read(question).absent == []


def test_a_county_the_gazetteer_does_not_list_is_absent_only_if_no_article_names_it(searcher: Searcher) -> None:
    assert answer("南田县辖哪些岛屿？", searcher).reason != "absent_place"
