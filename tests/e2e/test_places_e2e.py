"""Places end to end through the emulator: an absent place (or quoted name) is named in the refusal, and another
place's practice is offered only as that; a traditional-character question is answered like its simplified twin."""

from __future__ import annotations

import shutil

import pytest

from bot.retrieval.indexer import build_index
from bot.retrieval.search import Searcher, SearchIndex
from tests.conftest import ROOT
from tests.e2e.test_telegram_app import (  # noqa: F401  (fixtures)
    Bot,
    Library,
    Starter,
    ask,
    bot,
    emulator,
    library,
    make_settings,
    press,
    searcher,
    start_bot,
)
from tests.e2e.tg_emulator import inline_buttons

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_an_absent_place_is_named_and_others_practice_labelled(bot: Bot) -> None:
    reply = await ask(bot.user, 1201, "金寨县的第一书记是怎么管理的？")
    text = reply["text"]
    assert text.startswith("资料库里没有关于金寨县的报道")
    assert "其他地方的类似做法" in text and "金乡" in text and "不是金寨县的情况" in text
    assert "reply_markup" not in reply  # no buttons: it is not an answer


async def test_a_covered_place_without_the_practice_is_not_given_anothers(bot: Bot) -> None:
    reply = await ask(bot.user, 1204, "嘉祥县的3+1帮带制是怎么运作的？")
    text = reply["text"]
    assert text.startswith("资料库里关于嘉祥县的报道没有讲到这个问题")
    assert "其他地方的类似做法" in text and "金乡" in text and "不是嘉祥县的情况" in text
    assert "reply_markup" not in reply


async def test_a_quoted_name_no_article_carries_is_named_in_the_refusal(bot: Bot) -> None:
    reply = await ask(bot.user, 1205, "“三会一课”制度包括哪些内容？")
    assert reply["text"].startswith("资料库里没有提到“三会一课”的报道")
    assert "reply_markup" not in reply


async def test_a_quoted_name_the_corpus_carries_is_answered_from_its_article(bot: Bot) -> None:
    reply = await ask(bot.user, 1205, "“书记讲给书记听”是在什么活动里提出的？")
    assert "出处：" in reply["text"] and "邹城" in reply["text"] and "书记讲给书记听" in reply["text"]


async def test_traditional_characters_get_the_simplified_answer(bot: Bot) -> None:
    simplified = await ask(bot.user, 1202, "3+1帮带制是怎么运作的？")
    traditional = await ask(bot.user, 1202, "3+1幫帶制是怎麼運作的？")
    assert "出处：" in traditional["text"] and traditional["text"] == simplified["text"]


async def test_the_answers_own_article_is_quoted_when_another_paragraph_is_close(bot: Bot) -> None:
    reply = await ask(bot.user, 1206, "邹城的村级工作擂台赛通过哪些环节比拼？")
    text = reply["text"]
    assert text.index("出处：") < text.index("同一篇报道还写道") and "攻擂比拼" in text.split("同一篇报道还写道")[1]


@pytest.fixture(scope="module")
def places_library(tmp_path_factory, encoder) -> Library:
    root = tmp_path_factory.mktemp("places-library")
    shutil.copytree(ROOT / "tests" / "data" / "places", root / "corpus")
    build_index(root / "corpus", root / "index", encoder, progress=False)
    return Library(root / "corpus", root / "index")


@pytest.fixture
async def places_bot(start_bot: Starter, emulator, places_library, encoder, tmp_path) -> Bot:
    searcher = Searcher(SearchIndex.load(places_library.index), encoder)
    return await start_bot(make_settings(emulator, places_library, tmp_path / "data"), searcher)


async def test_a_list_question_lists_every_place(places_bot: Bot) -> None:
    reply = await ask(places_bot.user, 1203, "哪些地方在搞积分超市？")
    assert reply["text"].startswith("资料库里有 4 个地方的相关报道")
    assert all(place in reply["text"] for place in ("沂水县", "兰考县", "武隆区", "集安市"))
    assert "右玉" not in reply["text"]


async def test_see_also_lines_and_their_buttons_open_the_other_places(places_bot: Bot) -> None:
    chat = 1204
    reply = await ask(places_bot.user, chat, "积分超市的积分能换什么？")
    assert "另见（其他地方的同类做法）" in reply["text"]
    others = [label for label, _ in inline_buttons(reply) if label.startswith("全文·")]
    assert others and all(label.removeprefix("全文·") in reply["text"] for label in others)
    opened = await press(places_bot.user, chat, reply, others[0])
    assert others[0].removeprefix("全文·") in opened["text"]
