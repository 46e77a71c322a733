"""The real bot (`build_application`) end to end against the Telegram Bot API emulator.

Each test gets a fresh token (so the emulator keeps its chats apart), a real SQLite file and a copy of
the seed corpus and index; handler errors are recorded and fail the test. Only the 403/429 paths of the
daily delivery use a fake bot, because the emulator cannot produce those errors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import itertools
import logging
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import Application

from bot.chat import telegram_admin
from bot.chat.commands import menu
from bot.chat.core import Core
from bot.chat.daily import local_day
from bot.chat.delivery import Outcome
from bot.chat.store import Store
from bot.chat.telegram_app import build_application, deliver_daily, webhook_options
from bot.chat.telegram_io import core_of
from bot.retrieval.indexer import BuildReport
from bot.retrieval.search import Searcher, SearchIndex
from bot.settings import Settings
from tests.e2e.tg_emulator import EmulatorClient, EmulatorServer, free_port, inline_buttons, run_emulator

pytestmark = pytest.mark.asyncio(loop_scope="session")

BOT_USERNAME = "PartyTestBot"
ADMIN = 4242
MEMBER = 5151
QUESTION = "3+1帮带制是怎么运作的？"
ANSWER_PART = "1名原第一书记指导"
OFF_TOPIC = "How do I reset the root password on a Linux server?"
WEISHAN_MD = """---
title: 微山县开展“湖上党课”
place: 微山
date: 2024-05-18
---

本报微山讯（通讯员 孙湖 李渔）微山县把党课搬到微山湖的渔船上，开展“湖上党课”活动，组织渔民党员在船头学理论、议发展，让党的声音传遍湖区的每一个渔村。

“湖上党课”由乡镇党委书记和驻村第一书记轮流主讲，每月在渔船上集中授课一次，讲政策、讲技术、讲生态保护，渔民党员带头参与退捕转产和湖区环境整治。

活动开展以来，全县共举办“湖上党课”86场，覆盖渔民党员1200余人次，帮助32个渔村发展特色养殖和乡村旅游。
"""
_tokens = itertools.count(810001)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with run_emulator(bot_username=BOT_USERNAME) as emu:
        yield emu


@dataclass
class Library:
    corpus: Path
    index: Path


def copy_library(root: Path, seed_corpus: Path, seed_index: Path) -> Library:
    """A private corpus + index (embedding cache included, so rebuilds only encode what is new)."""
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(seed_corpus, corpus)
    shutil.copytree(seed_index, index, symlinks=True)
    return Library(corpus, index)


@pytest.fixture(scope="module")
def library(tmp_path_factory, seed_corpus, seed_index) -> Library:
    return copy_library(tmp_path_factory.mktemp("library"), seed_corpus, seed_index)


@pytest.fixture(scope="module")
def searcher(library, encoder) -> Searcher:
    return Searcher(SearchIndex.load(library.index), encoder)


def make_settings(
    emulator: EmulatorServer, library: Library, data_dir: Path, token: str | None = None, **overrides
) -> Settings:
    return Settings(
        _env_file=None,
        telegram_bot_token=token or f"{next(_tokens)}:TEST-partybot",
        telegram_api_base_url=emulator.base_url,
        corpus_dir=library.corpus,
        index_dir=library.index,
        data_dir=data_dir,
        admin_ids=[ADMIN],
        **overrides,
    )


@dataclass
class Bot:
    app: Application
    user: EmulatorClient
    settings: Settings
    errors: list[BaseException] = field(default_factory=list)
    expect_errors: bool = False
    webhook: bool = False
    stopped: bool = False

    @property
    def core(self) -> Core:
        return core_of(self.app)

    async def stop(self) -> None:
        """Like the end of run_polling: stop, shut down, post_shutdown (closes SQLite)."""
        if self.stopped:
            return
        self.stopped = True
        if self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        await self.app.post_shutdown(self.app)
        await self.user.aclose()


Starter = Callable[..., Awaitable[Bot]]


@pytest_asyncio.fixture(loop_scope="session")
async def start_bot(emulator: EmulatorServer) -> AsyncIterator[Starter]:
    """Start the real application the way run_polling/run_webhook would; everything is stopped at the end."""
    started: list[Bot] = []

    async def start(
        settings: Settings, searcher: Searcher, *, interval: float | None = None, webhook: bool = False
    ) -> Bot:
        app = build_application(settings, searcher, excerpt_interval=interval)
        bot = Bot(app, emulator.client(settings.telegram_bot_token), settings, webhook=webhook)

        async def record(update: object, context) -> None:
            bot.errors.append(context.error)

        app.add_error_handler(record)
        started.append(bot)
        await app.initialize()
        await app.post_init(app)
        await app.start()
        if webhook:
            await app.updater.start_webhook(**webhook_options(settings))
        else:
            await app.updater.start_polling(poll_interval=0.02, timeout=0)
        return bot

    yield start
    for bot in reversed(started):
        await bot.stop()
    for bot in started:
        if not bot.expect_errors:
            assert not bot.errors, f"handler errors: {bot.errors!r}\nemulator log:\n{emulator.logs()}"


@pytest_asyncio.fixture(loop_scope="session")
async def bot(start_bot: Starter, emulator, library, searcher, tmp_path) -> Bot:
    return await start_bot(make_settings(emulator, library, tmp_path / "data"), searcher)


# --------------------------------------------------------------------------- helpers


def first_user(emulator: EmulatorServer, settings: Settings) -> EmulatorClient:
    return emulator.client(settings.telegram_bot_token)


def entity_texts(message: dict, kind: str) -> list[str]:
    """Entity offsets count UTF-16 units, like Telegram."""
    raw = message["text"].encode("utf-16-le")
    return [
        raw[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in message.get("entities", [])
        if e["type"] == kind
    ]


async def ask(user: EmulatorClient, chat: int, text: str, **kwargs) -> dict:
    sent = await user.send_text(chat, text, **kwargs)
    return await user.wait_for_bot_message(chat, after=sent["message_id"])


async def press(user: EmulatorClient, chat: int, message: dict, label: str) -> dict:
    """Press the button with that label; the bot's next message in the chat."""
    before = max(m["message_id"] for m in await user.messages(chat))
    await user.press_button(chat, message["message_id"], text=label)
    return await user.wait_for_bot_message(chat, after=before)


def assert_answer(reply: dict, must_bold: str = ANSWER_PART) -> None:
    assert reply["parse_mode"] == "HTML"
    assert any(must_bold in bold for bold in entity_texts(reply, "bold")), reply["text"]
    assert "出处：" in reply["text"]
    labels = [label for label, _ in inline_buttons(reply)]
    assert labels == ["更多结果", "阅读全文", "👍 有用", "👎 没用"]
    assert all(len(data.encode()) <= 64 for _, data in inline_buttons(reply))


async def settle(user: EmulatorClient, chat: int, seconds: float = 0.6) -> list[dict]:
    await asyncio.sleep(seconds)
    return await user.bot_messages(chat)


# --------------------------------------------------------------------------- basics


async def test_commands_registered_and_start(bot: Bot) -> None:
    commands = await bot.user.bot_commands()
    names = [c["command"] for c in commands]
    assert set(names) == {
        "start",
        "help",
        "ask",
        "new",
        "today",
        "daily",
        "quiz",
        "rank",
        "sources",
        "reindex",
        "about",
        "gaps",
    }
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in c["description"]) for c in commands)
    assert [(c["command"], c["description"]) for c in commands] == menu()  # the registry, in its order
    reply = await ask(bot.user, 1001, "/start")
    assert "党建问答" in reply["text"] and "/help" in reply["text"]
    help_reply = await ask(bot.user, 1001, "/help")
    assert "/daily" in help_reply["text"] and "@我" in help_reply["text"]
    assert "/new" in help_reply["text"] and "那嘉祥县呢" in help_reply["text"]


async def test_private_question_answered_with_citation_and_buttons(bot: Bot) -> None:
    chat = 1002
    sent = await bot.user.send_text(chat, QUESTION)
    reply = await bot.user.wait_for_bot_message(chat, after=sent["message_id"])
    assert_answer(reply)
    assert "金乡实行“四制”工作法 打造高素质第一书记队伍 · 金乡" in reply["text"]
    assert "reply_to_message" not in reply  # private chats need no quote
    actions = await bot.user.chat_actions(chat)
    assert [a["action"] for a in actions][:1] == ["typing"]


async def test_more_results_and_full_article(bot: Bot) -> None:
    chat = 1003
    reply = await ask(bot.user, chat, QUESTION)
    more = await press(bot.user, chat, reply, "更多结果")
    assert more["text"].startswith("更多结果") and "2. " in more["text"] and "出处：" in more["text"]

    full = await press(bot.user, chat, reply, "阅读全文")
    article = [p for p in bot.core.searcher.index.passages if p.article_id == "000_20fd8c739f8a3408.txt#1"]
    assert full["text"].startswith("金乡实行“四制”工作法 打造高素质第一书记队伍")
    positions = [full["text"].index(p.text) for p in sorted(article, key=lambda p: p.position)]
    assert positions == sorted(positions) and len(full["text"]) < 4096
    answers = await bot.user.callback_answers()
    assert len(answers) == 2 and not any(a["show_alert"] for a in answers)


async def test_buttons_still_work_after_restart(start_bot: Starter, emulator, library, searcher, tmp_path) -> None:
    settings = make_settings(emulator, library, tmp_path / "data")
    first = await start_bot(settings, searcher)
    reply = await ask(first.user, 1004, QUESTION)
    await first.stop()
    second = await start_bot(settings, searcher)  # same token, same SQLite file
    more = await press(second.user, 1004, reply, "更多结果")
    assert more["text"].startswith("更多结果")
    full = await press(second.user, 1004, reply, "阅读全文")
    assert "实行“3+1”帮带制" in full["text"]


async def test_sources_today_about(bot: Bot) -> None:
    chat = 1005
    sources = await ask(bot.user, chat, "/sources")
    assert "文章：6 篇" in sources["text"] and "图片说明 2 条" in sources["text"]
    assert "金乡" in sources["text"] and "最新日期" in sources["text"]
    today = await ask(bot.user, chat, "/today")
    assert today["text"].startswith("文章摘录\n嘉祥：常态化推动干部监督全覆盖")
    again = await ask(bot.user, chat, "/today")
    assert again["text"] != today["text"]  # /today walks the same rotation as the daily job
    about = await ask(bot.user, chat, "/about")
    assert "离线" in about["text"]
    unknown = await ask(bot.user, chat, "/frobnicate")
    assert "/help" in unknown["text"]


# --------------------------------------------------------------------------- groups


async def test_group_ignores_chatter_but_answers_ask_mention_and_reply(bot: Bot) -> None:
    user, group = bot.user, -100777
    chatter = await user.send_text(
        group, "大家好，今天学习安排在下午三点", chat_type="group", chat_title="第一党支部", user_id=301
    )
    other_bot = await user.send_text(group, "/ask@SomeOtherBot 3+1帮带制", chat_type="group", user_id=301)
    asked = await user.send_text(group, f"/ask {QUESTION}", chat_type="group", user_id=302)
    answer = await user.wait_for_bot_message(group, after=asked["message_id"])
    assert_answer(answer)
    assert answer["reply_to_message"]["message_id"] == asked["message_id"]

    mention = await user.send_text(
        group, f"@{BOT_USERNAME} 梁山的第一书记联盟是怎么组建的？", chat_type="group", user_id=303
    )
    by_mention = await user.wait_for_bot_message(group, after=mention["message_id"])
    assert by_mention["reply_to_message"]["message_id"] == mention["message_id"]
    assert "梁山" in by_mention["text"] and "出处：" in by_mention["text"]

    reply = await user.send_text(
        group, "曲阜的四色渔业养殖项目在哪里？", chat_type="group", user_id=304, reply_to=answer["message_id"]
    )
    by_reply = await user.wait_for_bot_message(group, after=reply["message_id"])
    assert by_reply["reply_to_message"]["message_id"] == reply["message_id"]
    assert "曲阜" in by_reply["text"]

    to_human = await user.send_text(group, "收到，谢谢", chat_type="group", user_id=305, reply_to=chatter["message_id"])
    messages = await settle(user, group)
    replied_to = [m["reply_to_message"]["message_id"] for m in messages]
    assert replied_to == [asked["message_id"], mention["message_id"], reply["message_id"]]
    assert not {chatter["message_id"], other_bot["message_id"], to_human["message_id"]} & set(replied_to)
    assert [a["chat_id"] for a in await user.chat_actions(group)].count(group) == 3


async def test_group_daily_is_for_group_admins(bot: Bot) -> None:
    user, group = bot.user, -100778
    refused = await ask(user, group, "/daily 07:30", chat_type="group", user_id=401)
    assert "群管理员" in refused["text"]
    await user.set_chat_admins(group, [402], owner_id=403)
    accepted = await ask(user, group, "/daily 07:30", chat_type="group", user_id=402)
    assert "订阅成功" in accepted["text"]
    assert bot.core.store.subscription(group).time == "07:30"


# --------------------------------------------------------------------------- hard questions


async def test_html_in_question_is_escaped(bot: Bot) -> None:
    reply = await ask(bot.user, 1006, "<b>root</b> password & <i>reset</i> on Linux?")
    assert "没有找到" in reply["text"]
    assert "&lt;b&gt;root&lt;/b&gt; password &amp; &lt;i&gt;reset&lt;/i&gt;" in reply["raw_text"]
    assert "<b>root</b> password & <i>reset</i>" in reply["text"]
    assert not entity_texts(reply, "bold") and not entity_texts(reply, "italic")
    answered = await ask(bot.user, 1006, f"<script>x</script>{QUESTION}")
    assert "<script>" not in answered["raw_text"]


async def test_empty_long_and_emoji_questions(bot: Bot) -> None:
    user, chat = bot.user, 1007
    assert "请直接输入问题" in (await ask(user, chat, "   "))["text"]
    long = await ask(user, chat, "党建" * 2500)
    assert "问题太长了（5000 字）" in long["text"] and "500 字以内" in long["text"]
    assert "请用文字提问" in (await ask(user, chat, "🙂🎉👍"))["text"]
    assert "请在 /ask 后面写上问题" in (await ask(user, chat, "/ask"))["text"]


async def test_out_of_corpus_question_is_refused(bot: Bot) -> None:
    reply = await ask(bot.user, 1008, OFF_TOPIC)
    assert "没有找到" in reply["text"] and "/sources" in reply["text"]
    assert "出处" not in reply["text"] and not inline_buttons(reply)
    assert not entity_texts(reply, "bold")


async def test_rate_limit_per_user(start_bot: Starter, emulator, library, searcher, tmp_path) -> None:
    bot = await start_bot(make_settings(emulator, library, tmp_path / "data", questions_per_minute=3), searcher)
    chat = 1009
    for question in (QUESTION, "嘉祥县如何管住“关键少数”？", OFF_TOPIC):  # refusals count as questions too
        assert "提问太频繁" not in (await ask(bot.user, chat, question))["text"]
    limited = await ask(bot.user, chat, QUESTION)
    assert "提问太频繁" in limited["text"] and "每分钟最多 3 个问题" in limited["text"]
    other = await ask(bot.user, 1010, QUESTION)  # another user is not affected
    assert "出处：" in other["text"]


async def test_error_handler_tells_the_user(bot: Bot, monkeypatch) -> None:
    def broken(style):
        raise RuntimeError("boom")

    monkeypatch.setattr(bot.core, "sources", broken)
    bot.expect_errors = True
    reply = await ask(bot.user, 1011, "/sources")
    assert reply["text"] == "出错了，请稍后再试。"
    assert any(isinstance(e, RuntimeError) and str(e) == "boom" for e in bot.errors)


# --------------------------------------------------------------------------- daily excerpts


async def test_daily_schedule_uses_time_and_zone(bot: Bot) -> None:
    reply = await ask(bot.user, 1012, "/daily 7:30")
    assert "每天 07:30（Asia/Shanghai）" in reply["text"]
    (job,) = bot.app.job_queue.get_jobs_by_name("1012")
    local = job.next_t.astimezone(ZoneInfo("Asia/Shanghai"))
    assert (local.hour, local.minute) == (7, 30)
    changed = await ask(bot.user, 1012, "/daily 21:05")
    assert "21:05" in changed["text"]
    (job,) = bot.app.job_queue.get_jobs_by_name("1012")  # replaced, not added
    assert job.next_t.astimezone(ZoneInfo("Asia/Shanghai")).hour == 21
    status = await ask(bot.user, 1012, "/daily")
    assert "已订阅" in status["text"] and "21:05" in status["text"]
    bad = await ask(bot.user, 1012, "/daily 25:99")
    assert "不是有效的时间" in bad["text"]
    off = await ask(bot.user, 1012, "/daily off")
    assert off["text"] == "已取消每日摘录。" and not bot.app.job_queue.get_jobs_by_name("1012")


async def test_daily_excerpts_fire_and_survive_restart(
    start_bot: Starter, emulator, library, searcher, tmp_path
) -> None:
    settings = make_settings(emulator, library, tmp_path / "data")
    chat = 1013
    first = await start_bot(settings, searcher, interval=0.5)
    subscribed = await ask(first.user, chat, "/daily 08:00")
    assert "订阅成功" in subscribed["text"]
    excerpt = await first.user.wait_for_bot_message(
        chat, lambda m: m["text"].startswith("每日摘录"), after=subscribed["message_id"]
    )
    assert excerpt["text"].startswith("每日摘录\n嘉祥：常态化推动干部监督全覆盖\n嘉祥 · 日期未注明")
    assert "今年以来，嘉祥县管重点" in excerpt["text"] and "/daily off" in excerpt["text"]
    await first.stop()
    async with first_user(emulator, settings) as user:  # first.user is closed with its bot
        before = [m for m in await user.bot_messages(chat) if m["text"].startswith("每日摘录")]
    seen = {m["text"] for m in before}

    second = await start_bot(settings, searcher, interval=0.5)  # same SQLite: the job is restored
    assert second.app.job_queue.get_jobs_by_name(str(chat))
    following = await second.user.wait_for_bot_message(
        chat, lambda m: m["text"].startswith("每日摘录"), after=max(m["message_id"] for m in before)
    )
    assert following["text"] not in seen
    history = second.core.store.excerpt_history(chat)
    assert len(history) == len(set(history))  # no passage twice in a round

    off = await ask(second.user, chat, "/daily off")
    assert off["text"] == "已取消每日摘录。"
    await asyncio.sleep(0.3)  # an excerpt already on its way may still land
    last = max(m["message_id"] for m in await second.user.messages(chat))
    later = [m for m in await settle(second.user, chat, 1.5) if m["message_id"] > last]
    assert later == []


class FakeBot:
    """Raises the given Telegram errors in turn, then 'sends'."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, text))


@pytest.fixture
def daily_core(tmp_path, seed_searcher, emulator, library) -> Iterator[Core]:
    settings = make_settings(emulator, library, tmp_path)
    store = Store(settings.db_path)
    yield Core(settings, seed_searcher, store)
    store.close()


async def test_deliver_daily_unsubscribes_a_blocked_chat(daily_core: Core) -> None:
    daily_core.store.subscribe(77, "08:00", "Asia/Shanghai")
    outcome = await deliver_daily(
        FakeBot(Forbidden("Forbidden: bot was blocked by the user")), daily_core, 77, daily=True
    )
    assert outcome == Outcome.UNSUBSCRIBED
    assert daily_core.store.subscription(77).enabled is False
    assert daily_core.store.excerpt_history(77) == []  # the undelivered excerpt is not counted as sent
    assert await deliver_daily(FakeBot(), daily_core, 77, daily=True) == Outcome.SKIPPED

    daily_core.store.subscribe(78, "08:00", "Asia/Shanghai")
    gone = FakeBot(BadRequest("Chat not found"))
    assert await deliver_daily(gone, daily_core, 78, daily=True) == Outcome.UNSUBSCRIBED


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter(...) itself warns
async def test_deliver_daily_waits_out_retry_after(daily_core: Core) -> None:
    daily_core.store.subscribe(79, "08:00", "Asia/Shanghai")
    fake = FakeBot(RetryAfter(dt.timedelta(milliseconds=300)), RetryAfter(dt.timedelta(milliseconds=100)))
    loop = asyncio.get_running_loop()
    started = loop.time()
    now = dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
    assert await deliver_daily(fake, daily_core, 79, daily=True, now=now) == Outcome.SENT
    assert loop.time() - started >= 0.4
    assert len(fake.sent) == 1 and fake.sent[0][1].startswith("<b>每日摘录</b>")
    assert daily_core.store.subscription(79).last_day == "2025-03-01"
    # the same local day again (a catch-up after a restart): nothing is sent twice
    assert await deliver_daily(FakeBot(), daily_core, 79, daily=True, now=now) == Outcome.SKIPPED
    tomorrow = now + dt.timedelta(days=1)
    assert await deliver_daily(FakeBot(), daily_core, 79, daily=True, now=tomorrow) == Outcome.SENT
    assert [pid for _, pid in daily_core.store.excerpt_history(79)][0] != [
        pid for _, pid in daily_core.store.excerpt_history(79)
    ][1]


async def test_deliver_daily_with_nothing_to_send(daily_core: Core, monkeypatch) -> None:
    daily_core.store.subscribe(80, "08:00", "Asia/Shanghai")
    monkeypatch.setattr(daily_core, "claim_delivery", lambda chat_id, day: None)
    assert await deliver_daily(FakeBot(), daily_core, 80, daily=False) == Outcome.EMPTY


async def test_daily_jobs_restored_at_startup(start_bot: Starter, emulator, library, searcher, tmp_path) -> None:
    settings = make_settings(emulator, library, tmp_path / "data")
    store = Store(settings.db_path)
    today = local_day("Asia/Shanghai")
    store.subscribe(501, "08:00", "Asia/Shanghai", last_day=today)  # today's excerpt already went out
    store.subscribe(502, "00:00", "Asia/Shanghai", last_day="2000-01-01")  # due today, missed while down
    store.subscribe(503, "09:00", "Asia/Shanghai")
    store.unsubscribe(503)
    store.close()
    bot = await start_bot(settings, searcher)
    queue = bot.app.job_queue
    (job,) = queue.get_jobs_by_name("501")
    assert job.data.daily and job.next_t.astimezone(ZoneInfo("Asia/Shanghai")).hour == 8
    assert len(queue.get_jobs_by_name("502")) == 2  # the daily job plus a one-off catch-up
    assert not queue.get_jobs_by_name("503")


class FakeStatus:
    """Stands in for the progress Message: records every edit."""

    def __init__(self) -> None:
        self.text = "正在更新索引…"
        self.edits: list[str] = []
        self.chat_id, self.message_id = ADMIN, 1  # where a restart would look for it

    async def edit_text(self, text: str) -> None:
        self.edits.append(text)


async def test_reindex_progress_is_throttled(daily_core: Core, monkeypatch) -> None:
    def slow_rebuild(on_progress):
        for done in range(1, 11):
            time.sleep(0.1)
            on_progress(done, 10)
        return BuildReport(
            passages=37, articles=6, captions=2, added=0, removed=0, encoded=10, cached=27, seconds=1.0, dense=True
        )

    monkeypatch.setattr(telegram_admin, "PROGRESS_EVERY", 0.25)
    monkeypatch.setattr(daily_core, "rebuild", slow_rebuild)
    assert daily_core.try_begin_reindex()
    status = FakeStatus()
    await telegram_admin.reindex_with_progress(daily_core, status)
    progress = [t for t in status.edits if t.startswith("正在编码")]
    assert 1 <= len(progress) <= 6 and progress == sorted(set(progress), key=progress.index)
    assert all(re.fullmatch(r"正在编码 \d+/10…", t) for t in progress)
    assert status.edits[-1].startswith("索引已更新") and not daily_core.reindexing


# --------------------------------------------------------------------------- admin


def corpus_state(corpus: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(corpus.iterdir())}


async def test_admin_upload_then_reindex_while_answering(
    start_bot: Starter, emulator, tmp_path, seed_corpus, seed_index, encoder
) -> None:
    library = copy_library(tmp_path, seed_corpus, seed_index)
    bot = await start_bot(
        make_settings(emulator, library, tmp_path / "data"), Searcher(SearchIndex.load(library.index), encoder)
    )
    user, chat = bot.user, ADMIN
    lock = (library.index / ".build.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # the build will wait here: proof that answers flow during a reindex
    try:
        sent = await user.send_document(chat, "../微山“湖上党课”.md", WEISHAN_MD.encode(), user_id=ADMIN)
        saved = await user.wait_for_bot_message(chat, after=sent["message_id"])
        assert "已收到 1 篇文章：《微山县开展“湖上党课”》" in saved["text"] and "微山_湖上党课.md" in saved["text"]
        status = await user.wait_for_bot_message(
            chat, lambda m: m["text"].startswith("正在更新索引"), after=saved["message_id"]
        )
        during = await ask(user, chat, QUESTION)
        assert_answer(during)
        busy = await ask(user, chat, "/reindex")
        assert "已有一个索引任务正在进行" in busy["text"]
        current = [m for m in await user.bot_messages(chat) if m["message_id"] == status["message_id"]][0]
        assert current["text"].startswith("正在")  # still running
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    done = await user.wait_for_bot_message(chat, lambda m: m["text"].startswith("索引已更新"), timeout=60)
    assert done["message_id"] == status["message_id"]  # the progress message became the result
    assert "共 7 篇文章" in done["text"] and "新增 3 段，移除 0 段" in done["text"] and "秒" in done["text"]
    assert (library.corpus / "微山_湖上党课.md").read_bytes() == WEISHAN_MD.encode()

    new = await ask(user, chat, "微山县的湖上党课是怎么开展的？")
    assert "微山县开展“湖上党课” · 微山 · 2024-05-18" in new["text"]
    assert entity_texts(new, "bold")

    again = await ask(user, chat, "/reindex")
    result = await user.wait_for_bot_message(
        chat, lambda m: m["text"].startswith("索引已更新"), after=again["message_id"] - 1, timeout=60
    )
    assert "新增 0 段，移除 0 段" in result["text"]
    duplicate = await user.send_document(chat, "copy.md", WEISHAN_MD.encode(), user_id=ADMIN)
    same = await user.wait_for_bot_message(chat, after=duplicate["message_id"])
    assert "已有内容相同的文件 微山_湖上党课.md" in same["text"]
    assert sorted(p.name for p in library.corpus.iterdir()) == ["000_20fd8c739f8a3408.txt", "微山_湖上党课.md"]
    # the newest article now leads the excerpt rotation
    today = await ask(user, chat, "/today")
    assert "微山县开展“湖上党课”" in today["text"] and "2024-05-18" in today["text"]


async def test_non_admin_cannot_upload_or_reindex(bot: Bot, library: Library, caplog) -> None:
    before = corpus_state(library.corpus)
    caplog.set_level(logging.WARNING, logger="bot.chat")
    user, chat = bot.user, MEMBER
    sent = await user.send_document(chat, "新文章.md", WEISHAN_MD.encode(), user_id=MEMBER)
    refused = await user.wait_for_bot_message(chat, after=sent["message_id"])
    assert "只有管理员可以上传资料" in refused["text"]
    reindex = await ask(user, chat, "/reindex")
    assert "只有管理员可以更新索引" in reindex["text"]
    assert corpus_state(library.corpus) == before
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "refused upload" in logged and "refused /reindex" in logged and str(MEMBER) in logged


async def test_broken_or_unsupported_upload_changes_nothing(bot: Bot, library: Library) -> None:
    before = corpus_state(library.corpus)
    user, chat = bot.user, ADMIN
    sent = await user.send_document(chat, "坏文件.docx", b"PK\x03\x04 this is not a real docx", user_id=ADMIN)
    reply = await user.wait_for_bot_message(chat, after=sent["message_id"])
    assert "无法解析" in reply["text"] and "没有任何改动" in reply["text"]
    exe = await user.send_document(chat, "tool.exe", b"MZ...", user_id=ADMIN)
    unsupported = await user.wait_for_bot_message(chat, after=exe["message_id"])
    assert "不支持这种文件" in unsupported["text"] and ".docx" in unsupported["text"]
    big = await user.send_document(chat, "大文件.txt", b"x" * (10 * 1024 * 1024 + 1), user_id=ADMIN)
    too_big = await user.wait_for_bot_message(chat, after=big["message_id"])
    assert "文件太大" in too_big["text"] and "10 MB" in too_big["text"]
    await settle(user, chat, 0.3)
    assert not any(m["text"].startswith("正在更新索引") for m in await user.bot_messages(chat))
    assert corpus_state(library.corpus) == before


# --------------------------------------------------------------------------- webhook


async def test_webhook_mode(start_bot: Starter, emulator, library, searcher, tmp_path) -> None:
    port = free_port()
    settings = make_settings(
        emulator,
        library,
        tmp_path / "data",
        webhook_url=f"http://127.0.0.1:{port}/partybot",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_secret="s3cret-Token_1",
    )
    bot = await start_bot(settings, searcher, webhook=True)
    info = await bot.user.webhook_info()
    assert info["url"] == f"http://127.0.0.1:{port}/partybot"
    reply = await ask(bot.user, 1014, QUESTION)
    assert_answer(reply)
    more = await press(bot.user, 1014, reply, "更多结果")
    assert more["text"].startswith("更多结果")
    await bot.stop()
    async with emulator.client(settings.telegram_bot_token) as user:
        await user.delete_webhook()
