"""Places end to end through the emulator: an absent place is named in the refusal, and another place's
practice is offered only as that; a traditional-character question is answered like its simplified twin."""

from __future__ import annotations

import pytest

from tests.e2e.test_telegram_app import Bot, ask, bot, emulator, library, searcher, start_bot  # noqa: F401

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_an_absent_place_is_named_and_others_practice_labelled(bot: Bot) -> None:
    reply = await ask(bot.user, 1201, "金寨县的第一书记是怎么管理的？")
    text = reply["text"]
    assert text.startswith("资料库里没有关于金寨县的报道")
    assert "其他地方的类似做法" in text and "金乡" in text and "不是金寨县的情况" in text
    assert "reply_markup" not in reply  # no buttons: it is not an answer


async def test_traditional_characters_get_the_simplified_answer(bot: Bot) -> None:
    simplified = await ask(bot.user, 1202, "3+1帮带制是怎么运作的？")
    traditional = await ask(bot.user, 1202, "3+1幫帶制是怎麼運作的？")
    assert "出处：" in traditional["text"] and traditional["text"] == simplified["text"]
