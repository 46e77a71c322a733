"""bot.chat.daily: which passage is an excerpt, in what order, and the clock arithmetic of subscriptions."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.chat.daily import (
    is_substantive,
    local_day,
    missed_today,
    next_excerpt,
    parse_time,
    rotation,
    settled_day,
    slot_passed,
    time_of_day,
)
from bot.chat.store import Store, Subscription
from bot.retrieval.passages import Passage

LONG = (
    "这是一段足够长的正文，讲的是基层党组织如何开展工作、如何服务群众、如何推动发展，并且给出了具体的做法和成效。" * 2
)
UTC = dt.UTC


def passage(
    article: str, position: int, text: str = LONG, *, date: str = "", kind: str = "article", title: str | None = None
) -> Passage:
    return Passage(
        f"{article}-{position}",
        article,
        title or f"标题{article}",
        "金乡",
        date,
        "",
        "f.txt",
        position,
        text,
        kind=kind,
    )


def test_substantive_passages_only() -> None:
    assert is_substantive(passage("a", 0))
    assert not is_substantive(passage("a", 0, kind="caption"))
    assert not is_substantive(passage("a", 0, "太短了。"))
    headline = "金乡实行“四制”工作法打造高素质第一书记队伍" * 3
    assert not is_substantive(passage("a", 0, headline, title=headline))


def test_rotation_newest_first_then_corpus_order_and_positions() -> None:
    passages = [
        passage("old", 1, date="2023-01-02"),
        passage("old", 0, date="2023-01-02"),
        passage("undated1", 0),
        passage("caption", 0, kind="caption"),
        passage("new", 0, date="2024-06-01"),
        passage("new", 1, date="2024-06-01"),
        passage("undated2", 0),
    ]
    order = [(p.article_id, p.position) for p in rotation(passages)]
    assert order == [("new", 0), ("new", 1), ("old", 0), ("old", 1), ("undated1", 0), ("undated2", 0)]


def test_rotation_of_the_seed_corpus(seed_searcher) -> None:
    ordered = rotation(seed_searcher.index.passages)
    assert ordered[0].text.startswith("今年以来，嘉祥县管重点")
    assert all(p.kind != "caption" and len(p.text) >= 60 for p in ordered)
    assert len({p.passage_id for p in ordered}) == len(ordered)
    articles = [p.article_id for p in ordered]
    assert articles == sorted(articles, key=articles.index)  # each article's passages stay together


def test_next_excerpt_walks_the_rotation_then_starts_over(tmp_path, seed_searcher) -> None:
    store = Store(tmp_path / "db.sqlite3")
    ordered = rotation(seed_searcher.index.passages)
    got = [next_excerpt(store, 1, ordered).passage_id for _ in range(len(ordered) + 1)]
    assert got[:-1] == [p.passage_id for p in ordered] and got[-1] == ordered[0].passage_id
    assert next_excerpt(store, 2, []) is None
    store.close()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("08:00", "08:00"),
        ("8:05", "08:05"),
        ("０８：３０", "08:30"),
        ("2359", "23:59"),
        ("7.45", "07:45"),
        ("24:00", None),
        ("12:60", None),
        ("noon", None),
        ("", None),
        ("8", None),
    ],
)
def test_parse_time(text: str, expected: str | None) -> None:
    assert parse_time(text) == expected


def test_clock_in_the_subscription_zone() -> None:
    now = dt.datetime(2025, 3, 1, 23, 30, tzinfo=UTC)  # 07:30 on 2 March in Shanghai
    assert local_day("Asia/Shanghai", now) == "2025-03-02"
    assert not slot_passed("08:00", "Asia/Shanghai", now) and slot_passed("07:30", "Asia/Shanghai", now)
    assert settled_day("08:00", "Asia/Shanghai", now) is None  # subscribed in time: today's excerpt still comes
    assert settled_day("07:00", "Asia/Shanghai", now) == "2025-03-02"  # too late for today: tomorrow first
    at = time_of_day(Subscription(1, "08:00", "Asia/Shanghai", True, None))
    assert (at.hour, at.minute, str(at.tzinfo)) == (8, 0, "Asia/Shanghai")
    assert local_day("No/Such_Zone", now) == "2025-03-02"  # an unknown zone falls back to Asia/Shanghai


def test_missed_today_drives_the_restart_catch_up() -> None:
    now = dt.datetime(2025, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    sub = Subscription(1, "08:00", "Asia/Shanghai", True, "2025-03-01")
    assert missed_today(sub, now)  # the bot was down at 08:00: send today's excerpt on start-up
    assert not missed_today(Subscription(1, "08:00", "Asia/Shanghai", True, "2025-03-02"), now)  # already sent
    assert not missed_today(Subscription(1, "11:00", "Asia/Shanghai", True, "2025-03-01"), now)  # not due yet
    assert not missed_today(Subscription(1, "08:00", "Asia/Shanghai", False, None), now)
