"""Daily delivery and /today under faults, through the real application and the Telegram Bot API emulator.

Keyword-only (no model): an index of the seed article built once per module. Each test gets a fresh
token, so the emulator keeps its chats apart, and a real SQLite file; handler and job errors fail the test.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.chat import replies
from bot.retrieval.indexer import build_index
from bot.retrieval.passages import Passage
from bot.retrieval.search import Searcher, SearchIndex
from tests.conftest import SEED
from tests.e2e.test_telegram_app import (  # noqa: F401  (fixtures)
    ADMIN,
    Bot,
    Library,
    Starter,
    emulator,
    make_settings,
    start_bot,
)
from tests.e2e.tg_emulator import EmulatorClient
from tests.unit.test_store import fill_to_the_brim

pytestmark = pytest.mark.asyncio(loop_scope="session")

OFF_TOPIC = "How do I reset the root password on a Linux server?"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Library:
    root = tmp_path_factory.mktemp("delivery-library")
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    build_index(corpus, index, None, progress=False)
    return Library(corpus, index)


@pytest.fixture(scope="module")
def searcher(library: Library) -> Searcher:
    return Searcher(SearchIndex.load(library.index), None)


@pytest.fixture
def launch(start_bot: Starter, emulator, library: Library, searcher: Searcher, tmp_path: Path):
    """The shared start_bot (errors checked at the end) on this module's keyword-only library."""

    async def start(*, interval: float | None = None) -> Bot:
        return await start_bot(make_settings(emulator, library, tmp_path / "data"), searcher, interval=interval)

    return start


async def ask(user: EmulatorClient, chat: int, text: str, **kwargs) -> dict:
    sent = await user.send_text(chat, text, **kwargs)
    return await user.wait_for_bot_message(chat, after=sent["message_id"], timeout=20)


def excerpts_in(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["text"].startswith("每日摘录")]


# --------------------------------------------------------------------------- row 1: a refused excerpt


async def test_a_refused_daily_excerpt_is_skipped_and_the_admins_are_told_once(launch, monkeypatch, record) -> None:
    """Telegram refuses the first two excerpts (bad markup, too long): the chat gets the third, the next run
    the fourth, and the admins one Chinese notice naming the chat and both errors."""
    bot = await launch(interval=0.5)
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


async def test_a_locked_state_file_does_not_stall_other_chats(launch, record) -> None:
    """Another connection holds SQLite's write lock: /daily waits for it, a question in another chat does not."""
    bot = await launch()
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


async def test_today_with_a_full_disk_shows_an_excerpt_and_logs_why(launch, caplog, record) -> None:
    """SQLite cannot grow the state file (PRAGMA max_page_count: SQLITE_FULL, as on a full disk): /today
    still shows an excerpt, and the log names the real error."""
    bot = await launch()
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
