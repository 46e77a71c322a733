"""eval --by-kind: each kind's figures come from the same answers as the overall ones."""

from __future__ import annotations

from bot.retrieval.answer import Answer, Source
from bot.retrieval.evaluate import Question, evaluate, format_report
from bot.retrieval.passages import Passage
from bot.retrieval.search import Hit


def _answer(question: str, text: str | None) -> Answer:
    if text is None:
        return Answer(question, True, "no_match")
    passage = Passage("p1", "a1", "题", "沂水县", "", "", "f.md", 0, text)
    return Answer(question, False, "", [text], [Hit(passage, 1.0)])


def test_kinds_and_absent_places_are_reported_apart() -> None:
    questions = [
        Question("f1", "沂水积分超市几号兑换？", ["每月10日"], "fact"),
        Question("p1", "沂水积分怎么攒？", ["志愿服务"], "practice"),
        Question("o1", "金寨积分超市几号兑换？", [], "outside", absent_place=True),
        Question("o2", "地球有多重？", [], "outside"),
    ]
    replies = {
        "沂水积分超市几号兑换？": "每月10日集中兑换。",
        "沂水积分怎么攒？": "参加环境整治可以积分。",
        "金寨积分超市几号兑换？": None,
        "地球有多重？": "每月10日集中兑换。",
    }
    metrics = evaluate(questions, lambda q: _answer(q, replies[q]), by_kind=True)
    kinds = metrics["by_kind"]
    assert (metrics["r1"], metrics["refused_right"]) == (0.5, 1)
    assert kinds["fact"]["r1"] == 1.0 and kinds["practice"]["r1"] == 0.0
    assert (kinds["outside"]["refused_right"], kinds["outside"]["out_of_corpus"]) == (1, 2)
    assert (kinds["absent_place"]["refused_right"], kinds["absent_place"]["out_of_corpus"]) == (1, 1)
    assert "absent_place" in format_report(metrics) and "正确拒答 1/1" in format_report(metrics)


def test_list_questions_report_how_many_places_were_shown() -> None:
    def passage(county: str) -> Passage:
        return Passage(
            f"p-{county}", county, "积分超市", county, "", "", "f.md", 0, "积分超市每月兑换。", county=county
        )

    hits = [Hit(passage(c), 1.0) for c in ("沂水县", "兰考县", "右玉县")]
    listing = Answer("哪些地方在搞积分超市？", False, "", ["积分超市每月兑换。"], hits, listing=True)
    listing.also = [Source(2, hits[1], "积分超市每月兑换。"), Source(3, hits[2], "积分超市每月兑换。")]
    question = Question(
        "l1", "哪些地方在搞积分超市？", ["积分超市"], "list", places=["沂水县", "兰考县", "武隆区", "集安市"]
    )
    metrics = evaluate([question], lambda q: listing, by_kind=True)
    assert metrics["by_kind"]["list"]["place_recall"] == 0.5  # 2 of the 4 places that report it


def test_a_refusal_that_offers_another_place_is_not_a_hit() -> None:
    """The other place's passage beside a refusal is not the answer, even when it holds the gold words."""
    question = Question("f1", "沂水县积分超市几号兑换？", ["每月10日集中兑换"], "fact")
    hit = Hit(Passage("p", "a", "金乡积分超市", "金乡县", "", "", "", 0, "积分超市每月10日集中兑换一次。"), 1.0)
    refused = Answer(question.question, True, "place_unanswered", ["积分超市每月10日集中兑换一次。"], [hit], ["沂水县"])
    metrics = evaluate([question], lambda q: refused)
    assert (metrics["r1"], metrics["r5"], metrics["answer1"], metrics["refused_wrong"]) == (0.0, 0.0, 0.0, 1)


def test_an_answer_quoted_from_the_same_article_counts_as_shown_not_as_answer_at_1() -> None:
    question = Question("p1", "兰考村支书打擂台要干啥？", ["亮成绩"], "practice")
    lead = Passage("p0", "a", "擂台比武", "兰考县", "", "", "f.md", 0, "兰考县举办擂台比武。")
    body = Passage("p1", "a", "擂台比武", "兰考县", "", "", "f.md", 1, "比武分为亮成绩、答难题两个环节。")
    result = Answer(question.question, False, "", [lead.text], [Hit(lead, 1.0), Hit(body, 0.9)])
    assert evaluate([question], lambda q: result)["shown"] == 0.0
    result.beside = Source(2, result.hits[1], body.text)
    metrics = evaluate([question], lambda q: result)
    assert (metrics["answer1"], metrics["shown"], metrics["r1"]) == (0.0, 1.0, 0.0)
    assert "答复含答案=1.000" in format_report(metrics)
