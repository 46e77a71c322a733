"""Getting one chat its daily excerpt, whatever carries it: the policy here, the transport in the channel.

A channel hands over a `Send` that raises `RateLimited` or `Unreachable` for its own errors; every other
exception is a failure. The excerpt is claimed before sending so that two deliveries never pick the same
passage, and given back whenever it did not arrive, so a chat never loses one to an error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Protocol

from bot.chat import replies
from bot.chat.daily import local_day
from bot.chat.replies import Style
from bot.chat.store import Store
from bot.retrieval.passages import Passage

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 4


class Outcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # not subscribed, or today's excerpt is already settled
    EMPTY = "empty"  # nothing in the corpus to excerpt
    UNSUBSCRIBED = "unsubscribed"  # the chat is gone or blocked the bot
    FAILED = "failed"  # still rate-limited after SEND_ATTEMPTS tries


class RateLimited(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds:.1f} s")
        self.seconds = seconds


class Unreachable(Exception):
    """The chat will not take messages again (blocked, kicked, deleted): stop sending, not retry."""


Send = Callable[[int, str], Awaitable[object]]


class Excerpts(Protocol):
    store: Store

    def claim_excerpt(self, chat_id: int) -> Passage | None: ...


async def deliver_daily(
    send: Send, excerpts: Excerpts, chat_id: int, style: Style, *, daily: bool, now: dt.datetime | None = None
) -> Outcome:
    """In daily mode a chat gets at most one excerpt per local day, so a catch-up after a restart and the
    regular job never both deliver."""
    store = excerpts.store
    sub = store.subscription(chat_id)
    if sub is None or not sub.enabled:
        return Outcome.SKIPPED
    day = local_day(sub.timezone, now) if daily else None
    if daily and sub.last_day == day:
        return Outcome.SKIPPED
    passage = await asyncio.to_thread(excerpts.claim_excerpt, chat_id)
    if passage is None:
        return Outcome.EMPTY
    text = replies.excerpt(passage, style, daily=True)
    for _ in range(SEND_ATTEMPTS):
        try:
            await send(chat_id, text)
        except RateLimited as exc:
            log.info("daily excerpt to %s rate-limited; retrying in %.1f s", chat_id, exc.seconds)
            await asyncio.sleep(exc.seconds)
            continue
        except Unreachable as exc:
            log.warning("chat %s unreachable (%s); daily excerpts stopped", chat_id, exc)
            store.release_excerpt(chat_id, passage.passage_id)
            store.unsubscribe(chat_id)
            return Outcome.UNSUBSCRIBED
        except BaseException:
            store.release_excerpt(chat_id, passage.passage_id)
            raise
        if day is not None:
            store.mark_day(chat_id, day)
        return Outcome.SENT
    store.release_excerpt(chat_id, passage.passage_id)
    log.warning("daily excerpt to %s gave up after %d rate-limited attempts", chat_id, SEND_ATTEMPTS)
    return Outcome.FAILED
