"""Follow-ups and inline mode end to end through the emulator: a three-turn dialogue in a private chat, two
members following their own threads in one group, and an answer shared inline into a group without the bot."""

from __future__ import annotations

import pytest

from tests.e2e.test_telegram_app import (  # noqa: F401  (fixtures)
    BOT_USERNAME,
    Bot,
    ask,
    bot,
    emulator,
    library,
    make_settings,
    searcher,
    settle,
    start_bot,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_three_turns_in_a_private_chat(bot: Bot) -> None:
    chat = 1301
    first = await ask(bot.user, chat, "3+1帮带制是怎么运作的？")
    assert "1名原第一书记指导" in first["text"] and "按“" not in first["text"]
    second = await ask(bot.user, chat, "那嘉祥县呢？")
    assert second["text"].startswith("按“嘉祥县3+1帮带制是怎么运作的？”理解：")
    assert "嘉祥" in second["text"] and "出处：" in second["text"]
    third = await ask(bot.user, chat, "第二条具体说说")
    assert third["text"].startswith("按“《嘉祥：常态化推动干部监督全覆盖》第2条”理解：")
    assert "全面覆盖“八小时外”" in entity_bold(third)
    fresh = await ask(bot.user, chat, "汶上的第一书记怎么帮群众秋收？")
    assert "按“" not in fresh["text"] and "汶上" in fresh["text"]
    forgotten = await ask(bot.user, chat, "/new")
    assert "换个话题" in forgotten["text"]
    nothing = await ask(bot.user, chat, "还有吗")
    assert nothing["text"].startswith("没有可以接着说的上一个问题")


async def test_two_members_in_a_group_keep_their_own_threads(bot: Bot) -> None:
    user, group = bot.user, -100900
    mention = f"@{BOT_USERNAME}"

    async def say(member: int, text: str, **kwargs) -> dict:
        return await ask(user, group, text, chat_type="group", chat_title="学习小组", user_id=member, **kwargs)

    a1 = await say(601, f"{mention} 3+1帮带制是怎么运作的？")
    b1 = await say(602, "/ask 邹城的村级工作擂台赛是怎么搞的？")
    assert "金乡" in a1["text"] and "邹城" in b1["text"]
    chatter = await user.send_text(group, "还有吗", chat_type="group", user_id=601)  # not addressed: ignored
    a2 = await say(601, f"{mention} 第三条")
    b2 = await say(602, "第二条", reply_to=b1["message_id"])
    assert a2["reply_to_message"]["message_id"] != chatter["message_id"]
    assert "《金乡实行“四制”工作法" in a2["text"] and "实行“实绩打擂”晾晒制" in entity_bold(a2)
    assert "《邹城：擂台比武" in b2["text"] and "“月度述职”抓推进" in entity_bold(b2)
    a3 = await say(601, "还有吗", reply_to=a2["message_id"])
    assert "实行“线上+线下”管理制" in a3["text"]
    messages = await settle(user, group)
    assert chatter["message_id"] not in [m["reply_to_message"]["message_id"] for m in messages]


async def test_an_inline_answer_is_shared_into_a_group_without_the_bot(bot: Bot) -> None:
    query = await bot.user.send_inline_query(701, "3+1帮带制是怎么运作的？", chat_type="supergroup")
    answered = await bot.user.inline_answer(query["id"])
    results = answered["results"]
    assert 1 <= len(results) <= 5 and answered["button"] is None
    top = results[0]
    assert top["type"] == "article" and "金乡" in top["title"] and top["description"]
    assert "1名原第一书记指导" in top["input_message_content"]["message_text"]
    posted = await bot.user.choose_inline_result(
        query["id"], top["id"], -100901, chat_type="supergroup", chat_title="没有机器人的群"
    )
    assert posted["via_bot"]["username"] == BOT_USERNAME
    assert "出处：" in posted["text"] and "1名原第一书记指导" in entity_bold(posted)
    assert not await bot.user.bot_messages(-100901)  # the bot itself never spoke there

    nothing = await bot.user.send_inline_query(701, "How do I reset the root password on a Linux server?")
    refused = await bot.user.inline_answer(nothing["id"])
    assert refused["results"] == [] and refused["button"]["text"] == "资料中没有找到相关内容"


async def test_inline_queries_are_rate_limited(start_bot, emulator, library, searcher, tmp_path) -> None:
    limited = await start_bot(make_settings(emulator, library, tmp_path / "data", questions_per_minute=2), searcher)
    for expected in (True, True, False):
        query = await limited.user.send_inline_query(702, "3+1帮带制是怎么运作的？")
        answer = await limited.user.inline_answer(query["id"])
        assert bool(answer["results"]) is expected
    assert answer["button"]["text"].startswith("提问太频繁") and answer["is_personal"]


def entity_bold(message: dict) -> str:
    """The bold parts of a message, joined (entity offsets count UTF-16 units, like Telegram)."""
    raw = message["text"].encode("utf-16-le")
    return "".join(
        raw[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in message.get("entities", [])
        if e["type"] == "bold"
    )
