"""The Telegram Bot API emulator (tests/emulator) works end to end with PTB 22.

A tiny PTB application defined here (not the product bot) runs in the test's event
loop against the emulator, in polling mode and in webhook mode; a simulated user
(tg_emulator.EmulatorClient) talks to it.
"""

from __future__ import annotations

import asyncio
import html
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode, PollType
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from tests.e2e.tg_emulator import EmulatorClient, EmulatorError, EmulatorServer, free_port, inline_buttons, run_emulator

pytestmark = pytest.mark.asyncio(loop_scope="session")

BOT_USERNAME = "EmuProbeBot"
_token_ids = itertools.count(700001)


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    with run_emulator(bot_username=BOT_USERNAME) as emu:
        yield emu


# --------------------------------------------------------------------------- the tiny bot


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text("welcome")


async def on_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    question = " ".join(context.args)
    await update.effective_message.reply_text(f"Q: {question}", do_quote=True)


async def on_group_mention(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    mentions = msg.parse_entities(["mention"]).values()
    if f"@{context.bot.username}".lower() in (m.lower() for m in mentions):
        await msg.reply_text("you called?", do_quote=True)


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    await context.bot.send_chat_action(msg.chat_id, ChatAction.TYPING)
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("👍", callback_data="vote:up"), InlineKeyboardButton("👎", callback_data="vote:down")]]
    )
    await msg.reply_text(f"<b>echo</b>: {html.escape(msg.text)}", parse_mode=ParseMode.HTML, reply_markup=keyboard)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("thanks")
    edited = await query.edit_message_text(f"voted <i>{query.data}</i>", parse_mode=ParseMode.HTML)
    context.bot_data.setdefault("edited", []).append(edited)


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    doc = msg.document
    data = await (await doc.get_file()).download_as_bytearray()
    context.bot_data.setdefault("downloads", []).append((doc.file_name, doc.mime_type, doc.file_size, bytes(data)))
    await context.bot.send_chat_action(msg.chat_id, ChatAction.UPLOAD_DOCUMENT)
    await msg.reply_document(
        document=bytes(data[::-1]),
        filename=f"reversed_{doc.file_name}",
        caption=f"<b>{len(data)}</b> bytes",
        parse_mode=ParseMode.HTML,
    )


async def on_poll_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    context.bot_data.setdefault("poll_answers", []).append(update.poll_answer)


def build_app(emulator: EmulatorServer, token: str) -> tuple[Application, list[BaseException]]:
    app = emulator.application_builder(token).build()
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(CommandHandler("ask", on_ask))
    app.add_handler(MessageHandler(filters.ChatType.GROUPS & filters.Entity("mention"), on_group_mention))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, on_private_text))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(CallbackQueryHandler(on_button, pattern=r"^vote:"))
    app.add_handler(PollAnswerHandler(on_poll_answer))
    errors: list[BaseException] = []

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error)

    app.add_error_handler(on_error)
    return app, errors


class Harness:
    def __init__(self, app: Application, errors: list[BaseException], user: EmulatorClient):
        self.app, self.errors, self.user = app, errors, user


@pytest_asyncio.fixture(loop_scope="session")
async def polling(emulator: EmulatorServer) -> AsyncIterator[Harness]:
    """A fresh bot (own token) polling the emulator, and a user talking to it."""
    token = f"{next(_token_ids)}:TEST-polling"
    app, errors = build_app(emulator, token)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0.02, timeout=0)
    user = emulator.client(token)
    try:
        yield Harness(app, errors, user)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await user.aclose()
    assert not errors, f"handler errors: {errors!r}\nemulator log:\n{emulator.logs()}"


# --------------------------------------------------------------------------- tests


async def test_get_me_and_commands(polling: Harness) -> None:
    bot = polling.app.bot
    assert bot.username == BOT_USERNAME
    assert bot.bot.is_bot is True and bot.bot.first_name and bot.id == int(bot.token.split(":")[0])
    assert await bot.set_my_commands([BotCommand("start", "开始"), BotCommand("ask", "提问")])
    assert await polling.user.bot_commands() == [
        {"command": "start", "description": "开始"},
        {"command": "ask", "description": "提问"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "ask"]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand("Bad-Command", "x")])


async def test_start_command(polling: Harness) -> None:
    sent = await polling.user.send_text(101, "/start")
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    reply = await polling.user.wait_for_bot_message(101, after=sent["message_id"])
    assert reply["text"] == "welcome"
    assert reply["chat"] == {"id": 101, "type": "private", "first_name": "User101"}


async def test_private_text_html_keyboard_and_button(polling: Harness) -> None:
    user = polling.user
    sent = await user.send_text(102, "a < b & 你好", first_name="张三", username="zhangsan")
    reply = await user.wait_for_bot_message(102, after=sent["message_id"])
    assert reply["parse_mode"] == "HTML"
    assert reply["raw_text"] == "<b>echo</b>: a &lt; b &amp; 你好"
    assert reply["text"] == "echo: a < b & 你好"
    assert reply["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert inline_buttons(reply) == [("👍", "vote:up"), ("👎", "vote:down")]
    actions = await user.chat_actions(102)
    assert [a["action"] for a in actions] == ["typing"]

    query = await user.press_button(102, reply["message_id"], "vote:down")
    assert query["chat_instance"] and query["data"] == "vote:down"
    edited = await user.wait_for_bot_message(102, lambda m: m["edit_count"] == 1)
    assert edited["message_id"] == reply["message_id"]
    assert edited["text"] == "voted vote:down" and edited["entities"][0]["type"] == "italic"
    assert "reply_markup" not in edited  # editing without reply_markup removes the keyboard
    assert [v["text"] for v in edited["history"]] == ["echo: a < b & 你好"]
    assert inline_buttons(edited["history"][0]) == [("👍", "vote:up"), ("👎", "vote:down")]
    answers = await user.wait_until(user.callback_answers, what="answerCallbackQuery")
    assert answers == [
        {"callback_query_id": query["id"], "text": "thanks", "show_alert": False, "url": None, "cache_time": 0}
    ]
    # PTB got the edited Message back (not True/None)
    (ptb_edited,) = polling.app.bot_data["edited"]
    assert ptb_edited.message_id == reply["message_id"] and ptb_edited.edit_date is not None
    with pytest.raises(EmulatorError, match="no inline keyboard"):
        await user.press_button(102, reply["message_id"], "vote:up")  # keyboard is gone


async def test_document_roundtrip(polling: Harness) -> None:
    user = polling.user
    payload = bytes(range(256)) * 300 + "党建问答".encode()
    sent = await user.send_document(103, "资料.pdf", payload, caption="请看")
    assert sent["document"]["file_name"] == "资料.pdf"
    assert sent["document"]["mime_type"] == "application/pdf"
    assert sent["document"]["file_size"] == len(payload)
    reply = await user.wait_for_bot_message(103, lambda m: "document" in m, after=sent["message_id"])
    assert polling.app.bot_data["downloads"] == [("资料.pdf", "application/pdf", len(payload), payload)]
    assert reply["method"] == "sendDocument"
    assert reply["document"]["file_name"] == "reversed_资料.pdf"
    assert reply["caption"] == f"{len(payload)} bytes" and reply["raw_caption"] == f"<b>{len(payload)}</b> bytes"
    assert await user.download(reply["document"]["file_id"]) == payload[::-1]
    assert "upload_document" in [a["action"] for a in await user.chat_actions(103)]


async def test_group_command_and_mention(polling: Harness) -> None:
    user = polling.user
    group = -1001234
    sent = await user.send_text(
        group, f"/ask@{BOT_USERNAME} 什么是党建？", chat_type="group", chat_title="支部群", user_id=201
    )
    assert sent["chat"] == {"id": group, "type": "group", "title": "支部群"}
    assert sent["entities"][0] == {"type": "bot_command", "offset": 0, "length": len(f"/ask@{BOT_USERNAME}")}
    reply = await user.wait_for_bot_message(group, after=sent["message_id"])
    assert reply["text"] == "Q: 什么是党建？"
    assert reply["reply_to_message"]["message_id"] == sent["message_id"]
    assert reply["chat"]["type"] == "group"

    # a user replies to the bot's answer and mentions the bot
    mention = await user.send_text(
        group, f"谢谢 @{BOT_USERNAME}", chat_type="group", user_id=202, reply_to=reply["message_id"]
    )
    assert mention["entities"] == [{"type": "mention", "offset": 3, "length": len(BOT_USERNAME) + 1}]
    assert mention["reply_to_message"]["message_id"] == reply["message_id"]
    answer = await user.wait_for_bot_message(group, after=mention["message_id"])
    assert answer["text"] == "you called?"

    await user.set_chat_admins(group, [202], owner_id=201)
    admins = await polling.app.bot.get_chat_administrators(group)
    assert [(a.status, a.user.id) for a in admins] == [("creator", 201), ("administrator", 202)]
    assert (await polling.app.bot.get_chat_member(group, 203)).status == "member"


async def test_bot_api_errors_look_like_telegram(polling: Harness) -> None:
    bot, user = polling.app.bot, polling.user
    with pytest.raises(BadRequest, match="[Cc]hat not found"):
        await bot.send_message(999999, "hello")
    await user.send_text(104, "/start")
    await user.wait_for_bot_message(104)
    with pytest.raises(BadRequest, match="[Uu]nsupported start tag"):
        await bot.send_message(104, "line<br>break", parse_mode=ParseMode.HTML)
    msg = await bot.send_message(104, "same")
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("same", 104, msg.message_id)
    assert await bot.delete_message(104, msg.message_id)
    assert all(m["message_id"] != msg.message_id for m in await user.bot_messages(104))


async def test_quiz_poll_and_answers(polling: Harness) -> None:
    bot, user = polling.app.bot, polling.user
    group = -1005678
    await user.send_text(group, "/start", chat_type="group", user_id=301)
    await user.wait_for_bot_message(group)
    sent = await bot.send_poll(
        group,
        "据摘录填空：实行“＿＿”帮带制",
        ["3+1", "四个一", "五有五带头"],
        type=PollType.QUIZ,
        correct_option_ids=[0],
        is_anonymous=False,
        explanation="原文：“实行“3+1”帮带制。”",
        question_parse_mode=None,
        explanation_parse_mode=None,
    )
    assert sent.poll is not None and sent.poll.correct_option_ids == (0,) and sent.poll.type == "quiz"
    first = await user.answer_poll(sent.message_id, [0], user_id=301, first_name="李四")
    await user.answer_poll(sent.message_id, [2], user_id=302)
    assert first["poll"]["total_voter_count"] == 1
    answers = await user.wait_until(
        lambda: asyncio.sleep(0, polling.app.bot_data.get("poll_answers", [])[1:]), what="two poll answers"
    )
    got = polling.app.bot_data["poll_answers"]
    assert [(a.poll_id, a.user.id, a.option_ids) for a in got] == [
        (sent.poll.id, 301, (0,)),
        (sent.poll.id, 302, (2,)),
    ] and answers
    assert got[0].user.first_name == "李四"
    with pytest.raises(EmulatorError, match="can't be changed"):
        await user.answer_poll(sent.message_id, [1], user_id=301)
    with pytest.raises(BadRequest, match="length must not exceed 100"):
        await bot.send_poll(group, "q", ["x" * 101, "y"], type=PollType.QUIZ, correct_option_ids=[0])
    with pytest.raises(BadRequest, match="2-12 options"):
        await bot.send_poll(group, "q", ["only"])
    with pytest.raises(BadRequest, match="correct option"):
        await bot.send_poll(group, "q", ["a", "b"], type=PollType.QUIZ, correct_option_ids=[5])
    with pytest.raises(BadRequest, match="explanation length"):
        await bot.send_poll(group, "q", ["a", "b"], type=PollType.QUIZ, correct_option_ids=[0], explanation="长" * 201)
    stopped = await bot.stop_poll(group, sent.message_id)
    assert stopped.is_closed and stopped.total_voter_count == 2
    with pytest.raises(EmulatorError, match="closed"):
        await user.answer_poll(sent.message_id, [0], user_id=303)


async def test_webhook_mode(emulator: EmulatorServer) -> None:
    token = f"{next(_token_ids)}:TEST-webhook"
    app, errors = build_app(emulator, token)
    port = free_port()
    async with emulator.client(token) as user:
        await app.initialize()
        await app.start()
        try:
            await app.updater.start_webhook(
                listen="127.0.0.1",
                port=port,
                url_path="tg-hook",
                webhook_url=f"http://127.0.0.1:{port}/tg-hook",
                secret_token="s3cret-Token_1",
            )
            info = await user.webhook_info()
            assert info["url"] == f"http://127.0.0.1:{port}/tg-hook"
            sent = await user.send_text(105, "/start")
            assert sent["update_id"] > 0
            reply = await user.wait_for_bot_message(105, after=sent["message_id"])
            assert reply["text"] == "welcome"
            text = await user.send_text(105, "hi")
            echo = await user.wait_for_bot_message(105, after=text["message_id"])
            await user.press_button(105, echo["message_id"], text="👍")
            await user.wait_for_bot_message(105, lambda m: m["text"] == "voted vote:up")
            assert (await user.webhook_info())["pending_update_count"] == 0
        finally:
            if app.updater.running:
                await app.updater.stop()
            await app.stop()
            await app.shutdown()
        assert not errors, errors

        # The bot is gone: a delivery failure is reported to the user, and the emulator survives.
        with pytest.raises(EmulatorError, match="not delivered to the webhook"):
            await user.send_text(105, "anyone?")
        info = await user.webhook_info()
        assert info["pending_update_count"] == 1 and "webhook" in info["last_error_message"]
        assert emulator.is_running()
        await user.delete_webhook()
        await user.reset()


async def test_long_polling_wakes_up_and_stops_promptly(emulator: EmulatorServer) -> None:
    token = f"{next(_token_ids)}:TEST-longpoll"
    app, errors = build_app(emulator, token)
    loop = asyncio.get_running_loop()
    async with emulator.client(token) as user:
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=5)
        try:
            await asyncio.sleep(0.3)  # a getUpdates call is now held open by the emulator
            t0 = loop.time()
            sent = await user.send_text(107, "/start")
            assert (await user.wait_for_bot_message(107, after=sent["message_id"], timeout=3))["text"] == "welcome"
            assert loop.time() - t0 < 2
        finally:
            t0 = loop.time()
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            assert loop.time() - t0 < 3
    assert not errors, errors


async def test_inline_queries_are_checked_like_telegram(polling: Harness) -> None:
    from telegram import InlineQueryResultArticle, InputTextMessageContent

    bot, user = polling.app.bot, polling.user
    assert bot.bot.supports_inline_queries is True

    def article(result_id: str, text: str) -> InlineQueryResultArticle:
        return InlineQueryResultArticle(result_id, "标题", InputTextMessageContent(text, parse_mode=ParseMode.HTML))

    query = await user.send_inline_query(901, "问题")
    assert query["query"] == "问题" and query["from"]["id"] == 901
    for results, error in (
        ([article("a", "x"), article("a", "y")], "RESULT_ID_DUPLICATE"),
        ([article("b" * 65, "x")], "RESULT_ID_INVALID"),
        ([article("c", "x" * 4097)], "message is too long"),
        ([article("d", "<b>broken")], "can't parse entities"),
    ):
        with pytest.raises(BadRequest, match=f"(?i){error}"):
            await bot.answer_inline_query(query["id"], results)
    assert await bot.answer_inline_query(query["id"], [article("ok", "<b>答案</b>原文")], cache_time=7)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_inline_query(query["id"], [])
    answer = await user.inline_answer(query["id"])
    assert answer["cache_time"] == 7 and [r["id"] for r in answer["results"]] == ["ok"]
    posted = await user.choose_inline_result(query["id"], "ok", -100902, chat_type="group", chat_title="别的群")
    assert posted["via_bot"]["username"] == BOT_USERNAME and posted["from"]["id"] == 901
    assert posted["text"] == "答案原文" and posted["entities"][0]["type"] == "bold"
