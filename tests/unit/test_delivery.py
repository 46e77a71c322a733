"""bot.chat.delivery: the daily-excerpt policy against a real SQLite store and a scripted transport."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from bot.chat.daily import next_excerpt
from bot.chat.delivery import SEND_ATTEMPTS, Outcome, RateLimited, Unreachable, deliver_daily
from bot.chat.replies import PLAIN
from bot.chat.store import Store
from bot.retrieval.passages import Passage

CHAT = 42
NOW = dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
TEXT = "基层党组织把学习教育同解决群众急难愁盼问题结合起来，推动各项工作落地见效，群众满意度持续提升。" * 2


class Library:
    def __init__(self, store: Store, passages: list[Passage]) -> None:
        self.store, self.passages = store, passages

    def claim_excerpt(self, chat_id: int) -> Passage | None:
        return next_excerpt(self.store, chat_id, self.passages)


class Transport:
    """Raises the scripted errors in turn, then delivers."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.attempts = 0
        self.sent: list[tuple[int, str]] = []

    async def __call__(self, chat_id: int, text: str) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, text))


@pytest.fixture
def library(tmp_path) -> Iterator[Library]:
    store = Store(tmp_path / "db.sqlite3")
    passages = [Passage(f"p{i}", f"a{i}", f"标题{i}", "金乡", "", "", "f.txt", 0, TEXT) for i in range(3)]
    store.subscribe(CHAT, "08:00", "Asia/Shanghai")
    yield Library(store, passages)
    store.close()


def history(library: Library) -> list[str]:
    return [pid for _, pid in library.store.excerpt_history(CHAT)]


async def test_sent_once_per_local_day(library: Library) -> None:
    send = Transport()
    assert await deliver_daily(send, library, CHAT, PLAIN, daily=True, now=NOW) == Outcome.SENT
    assert send.sent[0][1].startswith("每日摘录\n标题0")
    assert library.store.subscription(CHAT).last_day == "2025-03-01"
    assert await deliver_daily(send, library, CHAT, PLAIN, daily=True, now=NOW) == Outcome.SKIPPED
    tomorrow = NOW + dt.timedelta(days=1)
    assert await deliver_daily(send, library, CHAT, PLAIN, daily=True, now=tomorrow) == Outcome.SENT
    assert history(library) == ["p0", "p1"]


async def test_interval_mode_ignores_the_day(library: Library) -> None:
    send = Transport()
    for _ in range(2):
        assert await deliver_daily(send, library, CHAT, PLAIN, daily=False, now=NOW) == Outcome.SENT
    assert len(send.sent) == 2 and library.store.subscription(CHAT).last_day is None


async def test_not_subscribed_or_nothing_to_send(library: Library) -> None:
    send = Transport()
    assert await deliver_daily(send, library, 99, PLAIN, daily=True) == Outcome.SKIPPED
    library.passages = []
    assert await deliver_daily(send, library, CHAT, PLAIN, daily=True) == Outcome.EMPTY
    assert send.attempts == 0


async def test_rate_limits_are_waited_out(library: Library) -> None:
    send = Transport(RateLimited(0.01), RateLimited(0.0))
    assert await deliver_daily(send, library, CHAT, PLAIN, daily=True, now=NOW) == Outcome.SENT
    assert send.attempts == 3 and history(library) == ["p0"]


async def test_gives_up_and_gives_the_excerpt_back(library: Library) -> None:
    send = Transport(*[RateLimited(0.0)] * SEND_ATTEMPTS)
    assert await deliver_daily(send, library, CHAT, PLAIN, daily=True, now=NOW) == Outcome.FAILED
    assert send.attempts == SEND_ATTEMPTS and history(library) == []
    sub = library.store.subscription(CHAT)
    assert sub.enabled and sub.last_day is None  # tried again at the next run


async def test_an_unreachable_chat_is_unsubscribed(library: Library) -> None:
    send = Transport(Unreachable("Forbidden: bot was blocked by the user"))
    assert await deliver_daily(send, library, CHAT, PLAIN, daily=True, now=NOW) == Outcome.UNSUBSCRIBED
    assert library.store.subscription(CHAT).enabled is False and history(library) == []
    assert await deliver_daily(Transport(), library, CHAT, PLAIN, daily=True, now=NOW) == Outcome.SKIPPED


async def test_any_other_error_releases_the_excerpt_and_propagates(library: Library) -> None:
    with pytest.raises(ConnectionError):
        await deliver_daily(Transport(ConnectionError("down")), library, CHAT, PLAIN, daily=True, now=NOW)
    assert history(library) == [] and library.store.subscription(CHAT).enabled
    assert await deliver_daily(Transport(), library, CHAT, PLAIN, daily=True, now=NOW) == Outcome.SENT
    assert history(library) == ["p0"]  # the same excerpt, not the next one
