"""bot.chat.delivery: the daily-excerpt policy against a real SQLite store and a scripted transport."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.chat import delivery
from bot.chat.daily import next_delivery
from bot.chat.delivery import (
    MAX_REFUSED,
    SEND_ATTEMPTS,
    Outcome,
    RateLimited,
    Rejected,
    Transient,
    Unreachable,
    deliver_daily,
)
from bot.chat.replies import PLAIN
from bot.chat.store import DeliveryState, Store
from bot.chat.telegram_app import sender
from bot.retrieval.passages import Passage
from tests.unit.test_store import fill_to_the_brim

CHAT = 42
ADMIN = 7
NOW = dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
TEXT = "基层党组织把学习教育同解决群众急难愁盼问题结合起来，推动各项工作落地见效，群众满意度持续提升。" * 2


class Library:
    def __init__(self, store: Store, passages: list[Passage]) -> None:
        self.store, self.passages = store, passages

    def claim_delivery(self, chat_id: int, day: str | None) -> Passage | None:
        return next_delivery(self.store, chat_id, self.passages, day)


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
    passages = [Passage(f"p{i}", f"a{i}", f"标题{i}", "金乡", "", "", "f.txt", 0, TEXT) for i in range(5)]
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


# --------------------------------------------------------------------------- refused, transient


async def test_a_refused_excerpt_is_skipped_and_the_admins_told_once(library: Library) -> None:
    send = Transport(Rejected("Bad Request: message is too long"), Rejected("Bad Request: can't parse entities"))
    outcome = await deliver_daily(send, library, CHAT, PLAIN, daily=True, now=NOW, admins=[ADMIN])
    assert outcome == Outcome.SENT
    assert [chat for chat, _ in send.sent] == [CHAT, ADMIN] and "标题2" in send.sent[0][1]
    notice = send.sent[1][1]
    assert str(CHAT) in notice and "message is too long" in notice and "can't parse entities" in notice
    assert "p0" in notice and "p1" in notice and "已改发下一段" in notice
    assert history(library) == ["p0", "p1", "p2"]  # the refused ones stay consumed
    assert library.store.subscription(CHAT).last_day == "2025-03-01" and library.store.delivery(CHAT) is None
    tomorrow = NOW + dt.timedelta(days=1)
    later = Transport()
    assert await deliver_daily(later, library, CHAT, PLAIN, daily=True, now=tomorrow, admins=[ADMIN]) == Outcome.SENT
    assert len(later.sent) == 1 and "标题3" in later.sent[0][1]  # moved on, no second notice


async def test_refused_every_time_gives_up_after_a_few(library: Library) -> None:
    send = Transport(*[Rejected("Bad Request: message is too long")] * MAX_REFUSED)
    outcome = await deliver_daily(send, library, CHAT, PLAIN, daily=True, now=NOW, admins=[ADMIN])
    assert outcome == Outcome.FAILED and send.attempts == MAX_REFUSED + 1  # MAX_REFUSED excerpts, one notice
    assert len(history(library)) == MAX_REFUSED and "本次没有发出摘录" in send.sent[0][1]
    assert library.store.subscription(CHAT).last_day is None  # tried again at the next run


async def test_transient_failures_back_off_and_resend(library: Library, monkeypatch) -> None:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(delivery.asyncio, "sleep", no_sleep)
    send = Transport(Transient("Bad Gateway"), Transient("Timed out"), RateLimited(3.0))
    assert await deliver_daily(send, library, CHAT, PLAIN, daily=True, now=NOW) == Outcome.SENT
    assert send.attempts == 4 and len(send.sent) == 1 and history(library) == ["p0"]
    assert waits == [delivery.BACKOFF_SECONDS, delivery.BACKOFF_SECONDS * 2, 3.0]


async def test_one_delivery_per_chat_at_a_time(library: Library) -> None:
    class Slow(Transport):
        async def __call__(self, chat_id: int, text: str) -> None:
            await asyncio.sleep(0.05)
            await super().__call__(chat_id, text)

    send = Slow()
    outcomes = await asyncio.gather(*(deliver_daily(send, library, CHAT, PLAIN, daily=False) for _ in range(3)))
    assert sorted(outcomes) == sorted([Outcome.SENT, Outcome.SKIPPED, Outcome.SKIPPED])
    assert len(send.sent) == 1


# --------------------------------------------------------------------------- kill -9 (crash points)


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after the crash point runs, no handler cleans up."""


@pytest.mark.parametrize(
    "point, sent_before, sent_after",
    [("daily.claimed", 0, 1), ("daily.sending", 0, 0), ("daily.sent", 1, 0)],
)
async def test_a_restart_after_a_kill_neither_repeats_nor_drops_the_excerpt(
    tmp_path: Path, monkeypatch, point: str, sent_before: int, sent_after: int
) -> None:
    """claimed → the same passage after the restart; sending → counted as sent (the at-most-once gap);
    sent → not again."""

    def crash_point(name: str) -> None:
        if name == point:
            raise Killed(name)

    db = tmp_path / "db.sqlite3"
    passages = [Passage(f"p{i}", f"a{i}", f"标题{i}", "金乡", "", "", "f.txt", 0, TEXT) for i in range(3)]
    first = Library(Store(db), passages)
    first.store.subscribe(CHAT, "08:00", "Asia/Shanghai")
    monkeypatch.setattr(delivery, "crash_point", crash_point)
    before = Transport()
    with pytest.raises(Killed):
        await deliver_daily(before, first, CHAT, PLAIN, daily=True, now=NOW)
    assert len(before.sent) == sent_before
    first.store.close()

    monkeypatch.setattr(delivery, "crash_point", lambda name: None)
    restarted = Library(Store(db), passages)
    after = Transport()
    await deliver_daily(after, restarted, CHAT, PLAIN, daily=True, now=NOW)
    assert len(after.sent) == sent_after
    if sent_after:
        assert "标题0" in after.sent[0][1]  # the passage claimed before the kill, not the next one
    assert await deliver_daily(Transport(), restarted, CHAT, PLAIN, daily=True, now=NOW) == Outcome.SKIPPED
    assert [pid for _, pid in restarted.store.excerpt_history(CHAT)] == ["p0"]
    assert restarted.store.subscription(CHAT).last_day == "2025-03-01" and restarted.store.delivery(CHAT) is None
    tomorrow = Transport()
    await deliver_daily(tomorrow, restarted, CHAT, PLAIN, daily=True, now=NOW + dt.timedelta(days=1))
    assert "标题1" in tomorrow.sent[0][1]
    restarted.store.close()


async def test_a_rate_limit_wait_goes_back_to_claimed(library: Library, monkeypatch) -> None:
    """Only the send itself is ambiguous: while waiting out a 429 a kill must not cost the excerpt."""
    states: list[DeliveryState | None] = []

    async def look(seconds: float) -> None:
        delivery_row = library.store.delivery(CHAT)
        states.append(delivery_row.state if delivery_row else None)

    monkeypatch.setattr(delivery.asyncio, "sleep", look)
    await deliver_daily(Transport(RateLimited(1.0)), library, CHAT, PLAIN, daily=True, now=NOW)
    assert states == [DeliveryState.CLAIMED]


# --------------------------------------------------------------------------- a full disk


async def test_a_full_disk_sends_nothing_and_logs_the_real_error(library: Library, caplog) -> None:
    fill_to_the_brim(library.store, CHAT)
    send = Transport()
    assert await deliver_daily(send, library, CHAT, PLAIN, daily=True, now=NOW) == Outcome.FAILED
    assert send.attempts == 0  # not recorded, not sent: a restart could not tell it went out
    assert "database or disk is full" in caplog.text and "cannot rollback" not in caplog.text
    assert library.store.delivery(CHAT) is None and library.store.subscription(CHAT).last_day is None


# --------------------------------------------------------------------------- Telegram's errors, translated


class FailingBot:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def send_message(self, chat_id: int, text: str, **kwargs) -> None:
        raise self.error


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter(...) itself warns
@pytest.mark.parametrize(
    "error, translated",
    [
        (lambda: RetryAfter(dt.timedelta(seconds=3)), RateLimited),
        (lambda: Forbidden("Forbidden: bot was blocked by the user"), Unreachable),
        (lambda: BadRequest("Bad Request: chat not found"), Unreachable),
        (lambda: BadRequest("Bad Request: message is too long"), Rejected),
        (lambda: BadRequest("Bad Request: can't parse entities: unsupported start tag"), Rejected),
        (lambda: NetworkError("Bad Gateway"), Transient),
        (lambda: NetworkError("Internal Server Error (500)"), Transient),
        (lambda: TimedOut(), Transient),
    ],
)
async def test_the_sender_sorts_telegram_errors(error: Callable[[], Exception], translated: type[Exception]) -> None:
    with pytest.raises(translated):
        await sender(FailingBot(error()))(CHAT, "摘录")
