"""Which passage a chat gets as its excerpt, and the clock arithmetic of daily subscriptions.

Channel-neutral: no Telegram here, so the console's /today and the bot's daily job choose alike.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.chat.store import Store, StoreError, Subscription
from bot.retrieval.passages import Passage

log = logging.getLogger(__name__)

MIN_EXCERPT_CHARS = 60
_HHMM = re.compile(r"^([01]?\d|2[0-3])[:：.](\d{2})$")


def is_substantive(passage: Passage) -> bool:
    """A photo caption or a line that is only the headline says nothing worth a morning message."""
    text = passage.text.strip()
    if passage.kind == "caption" or len(text) < MIN_EXCERPT_CHARS:
        return False
    return _bare(text) != _bare(passage.title)


def _bare(text: str) -> str:
    return re.sub(r"\W+", "", text)


def rotation(passages: list[Passage]) -> list[Passage]:
    """Newest articles first (undated ones after dated, in corpus order), each article in reading order."""
    articles: dict[str, list[Passage]] = {}
    for passage in passages:
        if is_substantive(passage):
            articles.setdefault(passage.article_id, []).append(passage)
    seen = {aid: i for i, aid in enumerate(articles)}  # corpus order: the stable tie-break
    ranked = sorted(seen, key=lambda aid: (articles[aid][0].date, -seen[aid]), reverse=True)  # ISO dates sort as text
    return [p for aid in ranked for p in sorted(articles[aid], key=lambda p: p.position)]


def next_excerpt(store: Store, chat_id: int, ordered: list[Passage]) -> Passage | None:
    """Claim (and record) the next excerpt of this chat's rotation; a new round starts once all were sent."""
    by_id = {p.passage_id: p for p in ordered}
    passage_id = store.claim_excerpt(chat_id, list(by_id))
    return by_id.get(passage_id) if passage_id else None


def next_delivery(store: Store, chat_id: int, ordered: list[Passage], day: str | None) -> Passage | None:
    """The daily delivery's excerpt: one claimed earlier and never sent, or else the next, claimed with its
    outbox row (`Store.claim_delivery`)."""
    by_id = {p.passage_id: p for p in ordered}
    passage_id = store.claim_delivery(chat_id, list(by_id), day)
    return by_id.get(passage_id) if passage_id else None


def unrecorded_excerpt(store: Store, chat_id: int, ordered: list[Passage]) -> Passage | None:
    """The excerpt `next_excerpt` would have claimed, recording nothing, for when the state file cannot be
    written; the rotation's first if it cannot even be read. Showing one matters more than the record."""
    if not ordered:
        return None
    try:
        passage_id = store.peek_excerpt(chat_id, [p.passage_id for p in ordered])
    except StoreError:
        log.exception("excerpt history of chat %s unreadable; showing the newest excerpt", chat_id)
        return ordered[0]
    return next((p for p in ordered if p.passage_id == passage_id), ordered[0])


# ---------------------------------------------------------------------- clock


def parse_time(text: str) -> str | None:
    """'8:00', '08：00' or '0800' → '08:00'; None when it is not a time of day."""
    text = unicodedata.normalize("NFKC", text).strip()
    if re.fullmatch(r"\d{4}", text):
        text = f"{text[:2]}:{text[2:]}"
    match = _HHMM.match(text)
    if not match or int(match.group(2)) > 59:
        return None
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def time_of_day(sub: Subscription) -> dt.time:
    """The subscription's wall-clock time with its zone attached, as JobQueue.run_daily wants it."""
    hours, minutes = (int(part) for part in sub.time.split(":"))
    return dt.time(hours, minutes, tzinfo=zone(sub.timezone))


def local_day(timezone: str, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(zone(timezone)).date().isoformat()


def week_start(timezone: str, now: dt.datetime | None = None) -> float:
    """Unix time of this week's Monday 00:00 in that zone: where a weekly standing starts."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(zone(timezone))
    monday = (local - dt.timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday.timestamp()


def slot_passed(at: str, timezone: str, now: dt.datetime | None = None) -> bool:
    """Whether today's delivery time (in that zone) is already behind us."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(zone(timezone))
    hours, minutes = (int(part) for part in at.split(":"))
    return (now.hour, now.minute) >= (hours, minutes)


def settled_day(at: str, timezone: str, now: dt.datetime | None = None) -> str | None:
    """Subscribing after today's time counts today as done: the first excerpt comes tomorrow, not at once."""
    return local_day(timezone, now) if slot_passed(at, timezone, now) else None


def missed_today(sub: Subscription, now: dt.datetime | None = None) -> bool:
    """True when today's excerpt was due while the bot was down (restart catch-up)."""
    return sub.enabled and slot_passed(sub.time, sub.timezone, now) and sub.last_day != local_day(sub.timezone, now)
