"""Daily delivery and /today under faults, through the real application and the Telegram Bot API emulator.

Keyword-only (no model): an index of the seed article built once per module. Each test gets a fresh
token, so the emulator keeps its chats apart, and a real SQLite file; handler and job errors fail the test.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from telegram.ext import Application

from bot.chat import replies
from bot.chat.core import Core
from bot.chat.telegram_app import build_application
from bot.chat.telegram_io import core_of
from bot.retrieval.indexer import build_index
from bot.retrieval.passages import Passage
from bot.retrieval.search import Searcher, SearchIndex
from bot.settings import Settings
from tests.conftest import SEED
from tests.e2e.tg_emulator import EmulatorClient, EmulatorServer, run_emulator
from tests.unit.test_store import fill_to_the_brim

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN = 4242
OFF_TOPIC = "How do I reset the root password on a Linux server?"
_tokens = itertools.count(830001)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with run_emulator(bot_username="PartyDeliveryBot") as emu:
        yield emu


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("delivery-library")
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    build_index(corpus, index, None, progress=False)
    return corpus, index


@pytest.fixture(scope="module")
def searcher(library) -> Searcher:
    return Searcher(SearchIndex.load(library[1]), None)


@dataclass
class Bot:
    app: Application
    user: EmulatorClient
    errors: list[BaseException] = field(default_factory=list)

    @property
    def core(self) -> Core:
        return core_of(self.app)


Starter = Callable[..., Awaitable[Bot]]


@pytest_asyncio.fixture(loop_scope="session")
async def start_bot(emulator: EmulatorServer, library, searcher, tmp_path) -> AsyncIterator[Starter]:
    """The real application, started the way run_polling would; stopped (and its errors checked) at the end."""
    started: list[Bot] = []

    async def start(*, interval: float | None = None) -> Bot:
        settings = Settings(
            _env_file=None,
            telegram_bot_token=f"{next(_tokens)}:TEST-delivery",
            telegram_api_base_url=emulator.base_url,
            corpus_dir=library[0],
            index_dir=library[1],
            data_dir=tmp_path / "data",
            admin_ids=[ADMIN],
        )
        app = build_application(settings, searcher, excerpt_interval=interval)
        bot = Bot(app, emulator.client(settings.telegram_bot_token))

        async def record(update: object, context) -> None:
            bot.errors.append(context.error)

        app.add_error_handler(record)
        started.append(bot)
        await app.initialize()
        await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0.02, timeout=0)
        return bot

    yield start
    for bot in reversed(started):
        if bot.app.updater.running:
            await bot.app.updater.stop()
        if bot.app.running:
            await bot.app.stop()
        await bot.app.shutdown()
        await bot.app.post_shutdown(bot.app)
        await bot.user.aclose()
    for bot in started:
        assert not bot.errors, f"handler or job errors: {bot.errors!r}\nemulator log:\n{emulator.logs()}"


async def ask(user: EmulatorClient, chat: int, text: str, **kwargs) -> dict:
    sent = await user.send_text(chat, text, **kwargs)
    return await user.wait_for_bot_message(chat, after=sent["message_id"], timeout=20)


def excerpts_in(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["text"].startswith("每日摘录")]


# --------------------------------------------------------------------------- row 1: a refused excerpt


async def test_a_refused_daily_excerpt_is_skipped_and_the_admins_are_told_once(
    start_bot: Starter, monkeypatch, record
) -> None:
    """Telegram refuses the first two excerpts (bad markup, too long): the chat gets the third, the next run
    the fourth, and the admins one Chinese notice naming the chat and both errors."""
    bot = await start_bot(interval=0.5)
    chat = 2101
    rotation = bot.core.view().rotation
    bad_markup, too_long = rotation[0].passage_id, rotation[1].passage_id
    real_excerpt = replies.excerpt

    def unsendable(passage: Passage, style: replies.Style, daily: bool = False) -> str:
        text = real_excerpt(passage, style, daily)
        if passage.passage_id == bad_markup:
            return text + "<br>"  # a rendering bug: Telegram answers "can't parse entities"
        if passage.passage_id == too_long:
            return text + "党" * 4100  # Telegram answers "message is too long"
        return text

    monkeypatch.setattr(replies, "excerpt", unsendable)
    await bot.user.send_text(ADMIN, "/start", user_id=ADMIN)  # a bot can only write to users who wrote first
    subscribed = await ask(bot.user, chat, "/daily 08:00")
    first = await bot.user.wait_for_bot_message(
        chat, lambda m: m["text"].startswith("每日摘录"), after=subscribed["message_id"], timeout=20
    )
    assert rotation[2].text[:20] in first["text"]
    second = await bot.user.wait_for_bot_message(
        chat, lambda m: m["text"].startswith("每日摘录"), after=first["message_id"], timeout=20
    )
    assert rotation[3].text[:20] in second["text"]  # moved on: the refused passages stay consumed
    await ask(bot.user, chat, "/daily off")

    notices = [m for m in await bot.user.bot_messages(ADMIN) if str(chat) in m["text"]]
    assert len(notices) == 1, [m["text"] for m in notices]
    notice = notices[0]["text"]
    assert "每日摘录" in notice and "拒收" in notice
    assert "can't parse entities" in notice.lower() and "message is too long" in notice.lower()
    history = [pid for _, pid in bot.core.store.excerpt_history(chat)]
    assert history[:4] == [p.passage_id for p in rotation[:4]]
    record(
        "每日摘录被 Telegram 拒收（400：消息过长、实体解析失败）",
        "跳到下一段（最多 3 段），管理员收到一次中文通知，不再原地重试",
    )


# --------------------------------------------------------------------------- row 6: a locked state file


async def test_a_locked_state_file_does_not_stall_other_chats(start_bot: Starter, record) -> None:
    """Another connection holds SQLite's write lock: /daily waits for it, a question in another chat does not."""
    bot = await start_bot()
    db = bot.core.settings.db_path
    locked, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait(timeout=4)
            other.execute("ROLLBACK")
        finally:
            other.close()

    holder = threading.Thread(target=hold_the_write_lock, daemon=True)
    holder.start()
    try:
        assert await asyncio.to_thread(locked.wait, 10)
        daily = await bot.user.send_text(2201, "/daily 08:00")
        await asyncio.sleep(0.5)  # /daily is now waiting for the lock
        # a refusal writes nothing, so this answer depends on the event loop alone, not on the locked file
        question = await bot.user.send_text(2202, OFF_TOPIC)
        answer = await bot.user.wait_for_bot_message(2202, after=question["message_id"], timeout=20)
        release.set()
        subscribed = await bot.user.wait_for_bot_message(2201, after=daily["message_id"], timeout=20)
    finally:
        release.set()
        await asyncio.to_thread(holder.join, 10)
    assert "没有找到" in answer["text"] and "订阅成功" in subscribed["text"]
    assert answer["message_id"] < subscribed["message_id"]  # B was answered while A's write waited
    record("另一个连接占住 SQLite 写锁 4 秒时 /daily 与别的聊天提问", "事件循环不被阻塞：别的聊天先得到回答")


# --------------------------------------------------------------------------- row 7: a full disk


async def test_today_with_a_full_disk_shows_an_excerpt_and_logs_why(start_bot: Starter, caplog, record) -> None:
    """SQLite cannot grow the state file (PRAGMA max_page_count: SQLITE_FULL, as on a full disk): /today
    still shows an excerpt, and the log names the real error."""
    bot = await start_bot()
    chat = 2301
    store = bot.core.store
    fill_to_the_brim(store, chat)
    caplog.set_level(logging.ERROR, logger="bot")
    reply = await ask(bot.user, chat, "/today")
    assert reply["text"].startswith("文章摘录"), reply["text"]
    assert bot.core.view().rotation[0].title in reply["text"]
    logged = caplog.text
    assert "database or disk is full" in logged and "cannot rollback" not in logged
    record("数据盘写满（SQLITE_FULL）时 /today", "照常显示摘录，日志里是真实错误而不是 cannot rollback")
