"""Getting one chat its daily excerpt, whatever carries it: the policy here, the transport in the channel.

A channel hands over a `Send` that translates its own errors: `RateLimited` (wait as told and resend),
`Transient` (server or network trouble: back off and resend), `Unreachable` (blocked or gone: unsubscribe)
and `Rejected` (Telegram refuses this very message: resending can never work, so the next excerpt goes
instead and the admins are told). Any other exception gives the excerpt back and propagates.

Each delivery is an outbox row in the store (`Store.claim_delivery`), claimed → sending → settled, each step
committed before the next, under the chat's hold (`Store.try_hold`): one delivery per chat at a time across
every process and replica sharing the store, freed at once when its holder dies. After a kill -9 a
`claimed` row is sent as it was, and a `sending` row counts as delivered because the message may have
arrived. So a restart (or another replica) never sends a chat a second excerpt the same day and never
silently drops a claimed one; the price of "at most once" is that a kill between `sending` and the send
itself loses that day's excerpt. (A timeout is resent like any transient failure, though Telegram may have
delivered it: without a reply there is no telling.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Protocol

from bot.chat import replies
from bot.chat.daily import local_day
from bot.chat.replies import Style
from bot.chat.store import DeliveryState, Store, StoreError
from bot.faults import crash_point
from bot.retrieval.passages import Passage

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 4  # sends of one excerpt, through rate limits and transient failures
BACKOFF_SECONDS = 2.0  # the wait after the first transient failure; it doubles each time
MAX_REFUSED = 3  # excerpts tried in one delivery while Telegram refuses them
HOLD = "daily"  # the store hold each chat's delivery runs under


class Outcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # not subscribed, today's excerpt already settled, or one is on its way already
    EMPTY = "empty"  # nothing in the corpus to excerpt
    UNSUBSCRIBED = "unsubscribed"  # the chat is gone or blocked the bot
    FAILED = "failed"  # still failing after SEND_ATTEMPTS, every excerpt tried refused, or the store failed


class RateLimited(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds:.1f} s")
        self.seconds = seconds


class Unreachable(Exception):
    """The chat will not take messages again (blocked, kicked, deleted): stop sending, not retry."""


class Transient(Exception):
    """A server error, a timeout or a dropped connection: most likely not delivered, and worth another try."""


class Rejected(Exception):
    """Telegram refused this message itself (too long, broken markup): the same text would be refused again."""


Send = Callable[[int, str], Awaitable[object]]


class Excerpts(Protocol):
    store: Store

    def claim_delivery(self, chat_id: int, day: str | None) -> Passage | None: ...


async def deliver_daily(
    send: Send,
    excerpts: Excerpts,
    chat_id: int,
    style: Style,
    *,
    daily: bool,
    now: dt.datetime | None = None,
    admins: Sequence[int] = (),
) -> Outcome:
    """In daily mode a chat gets at most one excerpt per local day, so a catch-up after a restart, the
    regular job and other replicas never both deliver; one delivery per chat at a time anywhere. `admins`
    hear about excerpts Telegram refused. The store is only ever called from worker threads."""
    store = excerpts.store
    try:
        if not await asyncio.to_thread(store.try_hold, HOLD, chat_id):
            return Outcome.SKIPPED
        try:
            return await _deliver(send, excerpts, chat_id, style, daily, now, admins)
        finally:
            await asyncio.to_thread(store.release, HOLD, chat_id)
    except StoreError:
        log.exception("daily excerpt to %s: its state could not be read or written; the next run tries again", chat_id)
        return Outcome.FAILED


async def _deliver(
    send: Send,
    excerpts: Excerpts,
    chat_id: int,
    style: Style,
    daily: bool,
    now: dt.datetime | None,
    admins: Sequence[int],
) -> Outcome:
    store = excerpts.store
    interrupted = await asyncio.to_thread(store.settle_interrupted, chat_id)
    if interrupted is not None:
        log.warning(
            "chat %s: the bot stopped while excerpt %s was being sent; counted as sent (at most once)",
            chat_id,
            interrupted.passage_id,
        )
    sub = await asyncio.to_thread(store.subscription, chat_id)
    if sub is None or not sub.enabled:
        return Outcome.SKIPPED
    day = local_day(sub.timezone, now) if daily else None
    if daily and sub.last_day == day:
        return Outcome.SKIPPED
    refused: list[tuple[str, str]] = []
    outcome = Outcome.FAILED
    for _ in range(MAX_REFUSED):
        passage = await asyncio.to_thread(excerpts.claim_delivery, chat_id, day)
        if passage is None:
            outcome = Outcome.EMPTY
            break
        crash_point("daily.claimed")
        try:
            outcome = await _send(send, store, chat_id, day, replies.excerpt(passage, style, daily=True))
        except Rejected as exc:
            log.error("daily excerpt %s to %s refused: %s; trying the next one", passage.passage_id, chat_id, exc)
            refused.append((passage.passage_id, str(exc)))
            continue
        break
    if refused:
        await _tell_admins(send, admins, replies.daily_refused(chat_id, refused, outcome is Outcome.SENT, style))
    return outcome


async def _send(send: Send, store: Store, chat_id: int, day: str | None, text: str) -> Outcome:
    """One excerpt, resent through rate limits and transient failures; raises Rejected (it stays consumed)."""
    for attempt in range(SEND_ATTEMPTS):
        await asyncio.to_thread(store.set_delivery_state, chat_id, DeliveryState.SENDING)
        crash_point("daily.sending")
        try:
            await send(chat_id, text)
        except RateLimited as exc:
            log.info("daily excerpt to %s rate-limited; retrying in %.1f s", chat_id, exc.seconds)
            wait = exc.seconds
        except Transient as exc:
            wait = BACKOFF_SECONDS * 2**attempt
            log.warning("daily excerpt to %s failed (%s); retrying in %.1f s", chat_id, exc, wait)
        except Unreachable as exc:
            log.warning("chat %s unreachable (%s); daily excerpts stopped", chat_id, exc)
            await asyncio.to_thread(store.drop_delivery, chat_id, give_back=True)
            await asyncio.to_thread(store.unsubscribe, chat_id)
            return Outcome.UNSUBSCRIBED
        except Rejected:
            await asyncio.to_thread(store.drop_delivery, chat_id, give_back=False)
            raise
        except Exception:
            await asyncio.to_thread(store.drop_delivery, chat_id, give_back=True)
            raise
        else:
            crash_point("daily.sent")
            await asyncio.to_thread(store.finish_delivery, chat_id, day)
            return Outcome.SENT
        # not delivered: back to `claimed`, so a kill during the wait resends this one after the restart
        await asyncio.to_thread(store.set_delivery_state, chat_id, DeliveryState.CLAIMED)
        if attempt + 1 < SEND_ATTEMPTS:
            await asyncio.sleep(wait)
    await asyncio.to_thread(store.drop_delivery, chat_id, give_back=True)
    log.warning("daily excerpt to %s gave up after %d attempts; the next run tries again", chat_id, SEND_ATTEMPTS)
    return Outcome.FAILED


async def _tell_admins(send: Send, admins: Sequence[int], text: str) -> None:
    """Once per delivery: nobody in the chat would report an excerpt that never came."""
    for admin in admins:
        try:
            await send(admin, text)
        except Exception:
            log.exception("could not tell admin %s about refused daily excerpts", admin)
