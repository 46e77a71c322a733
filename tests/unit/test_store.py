"""bot.chat.store: what must survive a restart — subscriptions, excerpt history, the hit lists behind buttons."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bot.chat import store as store_module
from bot.chat.store import Store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "partybot.sqlite3"


@pytest.fixture
def store(db: Path):
    opened = Store(db)
    yield opened
    opened.close()


def test_subscription_lifecycle(store: Store) -> None:
    assert store.subscription(1) is None
    sub = store.subscribe(1, "08:00", "Asia/Shanghai")
    assert (sub.chat_id, sub.time, sub.timezone, sub.enabled, sub.last_day) == (1, "08:00", "Asia/Shanghai", True, None)
    store.mark_day(1, "2025-03-01")
    changed = store.subscribe(1, "21:30", "Asia/Shanghai")
    assert changed.time == "21:30" and changed.last_day == "2025-03-01"  # changing the time keeps the history
    assert store.unsubscribe(1) is True and store.unsubscribe(1) is False
    assert store.subscriptions() == [] and store.subscriptions(enabled_only=False)[0].enabled is False
    again = store.subscribe(1, "07:00", "Asia/Shanghai", last_day="2025-03-05")
    assert again.enabled and again.last_day == "2025-03-05"
    older = store.subscribe(1, "07:00", "Asia/Shanghai", last_day="2025-03-02")
    assert older.last_day == "2025-03-05"  # the settled day never moves backwards


def test_subscriptions_persist(db: Path) -> None:
    first = Store(db)
    first.subscribe(-100, "08:00", "Asia/Shanghai")
    first.subscribe(7, "09:15", "Europe/Berlin")
    first.unsubscribe(7)
    first.close()
    second = Store(db)
    assert [(s.chat_id, s.time) for s in second.subscriptions()] == [(-100, "08:00")]
    second.close()


def test_excerpt_rotation_rounds_and_release(store: Store) -> None:
    ids = ["a", "b", "c"]
    assert [store.claim_excerpt(5, ids) for _ in range(3)] == ["a", "b", "c"]
    assert store.claim_excerpt(5, ids) == "a"  # everything sent: a new round starts from the top
    assert [r for r, _ in store.excerpt_history(5)] == [0, 0, 0, 1]
    store.release_excerpt(5, "a")  # not delivered: handed out again next time
    assert store.claim_excerpt(5, ids) == "a"
    assert store.claim_excerpt(6, ids) == "a"  # every chat has its own rotation
    assert store.claim_excerpt(5, ["new", *ids]) == "new"  # a new article is picked up at once
    assert store.claim_excerpt(5, []) is None


def test_excerpt_history_survives_restart(db: Path) -> None:
    first = Store(db)
    assert first.claim_excerpt(9, ["a", "b", "c"]) == "a"
    first.close()
    second = Store(db)
    assert second.claim_excerpt(9, ["a", "b", "c"]) == "b"
    second.close()


def test_concurrent_claims_never_repeat(store: Store) -> None:
    ids = [f"p{i}" for i in range(40)]
    claimed: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            pid = store.claim_excerpt(11, ids)
            with lock:
                claimed.append(pid)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_queries_roundtrip_and_persist(db: Path) -> None:
    first = Store(db)
    hits = [("p1", "a.txt#0"), ("p2", "a.txt#1")]
    query_id = first.save_query(42, "问题？", hits)
    assert len(f"more:{query_id}:5".encode()) <= 64
    first.close()
    second = Store(db)
    stored = second.query(query_id)
    assert stored is not None and stored.hits == hits and stored.question == "问题？" and stored.chat_id == 42
    assert second.query("nope") is None
    second.close()


def test_old_queries_are_pruned(store: Store, monkeypatch) -> None:
    old = store.save_query(1, "旧问题", [("p", "a")])
    later = time.time() + store_module.QUERY_TTL_SECONDS + 10
    monkeypatch.setattr(store_module.time, "time", lambda: later)
    fresh = store.save_query(1, "新问题", [("p", "a")])
    assert store.query(old) is None and store.query(fresh) is not None
