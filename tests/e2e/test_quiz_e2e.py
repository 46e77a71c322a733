"""Daily quiz, 👍/👎 votes and /gaps through the real application and the Telegram Bot API emulator.

Keyword-only (no model): an index of the seed article built once per module, a real SQLite file per test.
Quiz polls go out after the daily excerpt (the schedule replaced by a short interval, same callback),
members answer them as poll_answer updates, and /rank counts them across a restart.
"""

from __future__ import annotations

import json

import pytest

from bot.chat.telegram_app import WEEKLY_GAPS, send_weekly_gaps
from tests.e2e.test_delivery_e2e import library, searcher  # noqa: F401  (fixtures: the seed, keyword-only)
from tests.e2e.test_telegram_app import (  # noqa: F401  (fixtures)
    ADMIN,
    MEMBER,
    OFF_TOPIC,
    QUESTION,
    Library,
    Starter,
    ask,
    emulator,
    make_settings,
    start_bot,
)
from tests.e2e.tg_emulator import inline_buttons

pytestmark = pytest.mark.asyncio(loop_scope="session")

GROUP = -100777
LEADER, READER = 6101, 6102


def is_excerpt(m: dict) -> bool:
    return (m.get("text") or "").startswith("每日摘录")


async def test_daily_quiz_in_a_group_answers_and_rank_survive_restart(
    start_bot: Starter, emulator, library, searcher, tmp_path
) -> None:
    settings = make_settings(emulator, library, tmp_path / "data")
    first = await start_bot(settings, searcher, interval=0.5)
    user = first.user
    group = {"chat_type": "group", "chat_title": "第一党支部学习群"}
    await ask(user, GROUP, "/help", user_id=READER, first_name="王五", **group)
    await user.set_chat_admins(GROUP, [LEADER], owner_id=LEADER)
    refused = await ask(user, GROUP, "/quiz on", user_id=READER, **group)
    assert refused["text"] == "只有群管理员可以设置本群的每日一题。"
    on = await ask(user, GROUP, "/quiz on", user_id=LEADER, first_name="支书", **group)
    assert "已开启每日一题" in on["text"] and "请先发送 /daily" in on["text"]
    status = await ask(user, GROUP, "/quiz", user_id=LEADER, **group)
    assert "已开启每日一题" in status["text"]
    daily = await ask(user, GROUP, "/daily 08:00", user_id=LEADER, **group)
    assert "订阅成功" in daily["text"]

    poll_message = await user.wait_for_bot_message(GROUP, lambda m: "poll" in m, after=daily["message_id"], timeout=20)
    poll = poll_message["poll"]
    excerpt = [m for m in await user.bot_messages(GROUP) if is_excerpt(m)][-1]
    assert excerpt["message_id"] < poll_message["message_id"]  # the quiz follows its excerpt
    assert poll["type"] == "quiz" and poll["is_anonymous"] is False and 3 <= len(poll["options"]) <= 4
    (correct,) = poll["correct_option_ids"]
    options = [o["text"] for o in poll["options"]]
    blanked = poll["question"].split("——", 1)[1]
    stated = [i for i, o in enumerate(options) if blanked.replace("＿＿＿", o).strip("…") in excerpt["text"]]
    assert stated == [correct], (poll["question"], options)
    assert poll["explanation"].startswith("原文：") and len(poll["explanation"]) <= 200

    await user.answer_poll(poll_message["message_id"], [correct], user_id=READER, first_name="王五")
    await user.answer_poll(
        poll_message["message_id"], [(correct + 1) % len(options)], user_id=LEADER, first_name="支书"
    )
    await ask(user, GROUP, "/daily off", user_id=LEADER, **group)
    await user.wait_until(
        lambda: _answers(first, poll["id"]),
        what="both answers recorded",
    )
    rank = await ask(user, GROUP, "/rank", user_id=READER, **group)
    assert "本周每日一题排行" in rank["text"] and "2 人参与" in rank["text"]
    lines = rank["text"].splitlines()
    assert lines.index("1. 王五：答 1 题，答对 1 题") < lines.index("2. 支书：答 1 题，答对 0 题")
    await first.stop()

    second = await start_bot(settings, searcher, interval=0.5)  # same SQLite file
    again = await ask(second.user, GROUP, "/rank", user_id=READER, **group)
    assert "1. 王五：答 1 题，答对 1 题" in again["text"]
    off = await ask(second.user, GROUP, "/quiz off", user_id=LEADER, **group)
    assert "已关闭每日一题" in off["text"]


async def _answers(bot, poll_id: str) -> bool:
    standing = bot.core.store.quiz_standing(GROUP, 0)[1]
    return len(standing) == 2


async def test_votes_are_one_per_user_and_gaps_lists_and_exports_them(
    start_bot: Starter, emulator, library, searcher, tmp_path
) -> None:
    bot = await start_bot(make_settings(emulator, library, tmp_path / "data"), searcher)
    user, chat = bot.user, MEMBER
    reply = await ask(user, chat, QUESTION, user_id=MEMBER)
    buttons = inline_buttons(reply)
    assert [label for label, _ in buttons][-2:] == ["👍 有用", "👎 没用"]
    assert reply["reply_markup"]["inline_keyboard"][-1] == [
        {"text": label, "callback_data": data} for label, data in buttons[-2:]
    ]  # the votes have a row of their own
    down = dict(buttons)["👎 没用"]
    await user.press_button(chat, reply["message_id"], down)
    await user.press_button(chat, reply["message_id"], down)
    toasts = await user.wait_until(lambda: _toasts(user, 2), what="two answerCallbackQuery toasts")
    assert "已记下这条回答没用" in toasts[0] and toasts[1] == "你已经评价过这条回答了。"
    refusal = await ask(user, chat, OFF_TOPIC, user_id=MEMBER)
    assert "没有找到" in refusal["text"] and "reply_markup" not in refusal  # nothing to vote on

    denied = await ask(user, chat, "/gaps", user_id=MEMBER)
    assert "只有管理员可以查看资料缺口" in denied["text"]
    in_group = await ask(user, GROUP, "/gaps", user_id=ADMIN, chat_type="group")
    assert "请私聊我发送 /gaps" in in_group["text"]
    gaps = await ask(user, ADMIN, "/gaps", user_id=ADMIN)
    assert "最近 7 天的资料缺口" in gaps["text"] and "共 2 个问题" in gaps["text"]
    assert OFF_TOPIC[:30] in gaps["text"] and QUESTION in gaps["text"]
    document = await user.wait_for_bot_message(ADMIN, lambda m: "document" in m, after=gaps["message_id"])
    assert document["document"]["file_name"].startswith("gaps-") and "gold" in document["caption"]
    rows = [json.loads(line) for line in (await user.download(document["document"]["file_id"])).decode().splitlines()]
    assert {(r["question"], r["kind"]) for r in rows} == {(QUESTION, "review"), (OFF_TOPIC, "outside")}
    assert all(r["gold"] == [] and r["id"].startswith("gap-") for r in rows)
    assert "帮带" in next(r["shown"] for r in rows if r["question"] == QUESTION)

    assert bot.app.job_queue.get_jobs_by_name(WEEKLY_GAPS)  # Mondays; its callback, run now:
    assert await send_weekly_gaps(bot.app.bot, bot.core, "2026-11-30") == 1
    assert await send_weekly_gaps(bot.app.bot, bot.core, "2026-11-30") == 0  # another replica, the same Monday
    weekly = await user.wait_for_bot_message(ADMIN, lambda m: (m.get("text") or "").startswith("每周资料缺口汇总"))
    assert "共 2 个问题" in weekly["text"]
    commands = {c["command"]: c["description"] for c in await user.bot_commands()}
    assert {"quiz", "rank", "gaps"} <= set(commands) and "每日一题" in commands["quiz"]


async def _toasts(user, count: int) -> list[str] | None:
    texts = [a["text"] for a in await user.callback_answers() if a["text"]]
    return texts if len(texts) >= count else None
