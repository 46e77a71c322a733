"""bot.chat.store: what must survive a restart — subscriptions, excerpt history, the hit lists behind buttons.

Every test that is not about SQLite's own file runs on both backends (`database`: an SQLite path or a fresh
PostgreSQL database of the throwaway cluster).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from bot.chat import store as store_module
from bot.chat.store import Delivery, DeliveryState, Store, StoreError


@pytest.fixture
def db(database: str | Path) -> str | Path:
    return database


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "partybot.sqlite3"


def sqlite_connection(store: Store) -> sqlite3.Connection:
    """The store's own SQLite connection (one per store): a pragma such as max_page_count is per connection."""
    return store._engine.raw_connection().driver_connection


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


def test_subscriptions_persist(db: str | Path) -> None:
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
    assert store.claim_delivery(5, ids, None) == "b"
    store.drop_delivery(5, give_back=True)  # not delivered: handed out again next time
    assert store.claim_excerpt(5, ids) == "b"
    assert store.claim_excerpt(6, ids) == "a"  # every chat has its own rotation
    assert store.claim_excerpt(5, ["new", *ids]) == "new"  # a new article is picked up at once
    assert store.claim_excerpt(5, []) is None


def test_excerpt_history_survives_restart(db: str | Path) -> None:
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


def test_queries_roundtrip_and_persist(db: str | Path) -> None:
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


# ---------------------------------------------------------------------- a full disk


def fill_to_the_brim(store: Store, chat_id: int) -> None:
    """What a full disk looks like to SQLite: the file may not grow (SQLITE_FULL, "database or disk is full").

    `PRAGMA max_page_count` holds the file at its size; it is per connection, so it is set on the store's
    own. Rows that fit a page with room left would still be written, so filler rows of shrinking size fill
    the last pages of `excerpts`. They belong to chat_id - 1 and sort just before a first excerpt of
    `chat_id`, which therefore has no room either (so `chat_id` must have no excerpts and be the largest id).
    """
    db = sqlite_connection(store)
    with store._dialect.serial:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={pages}")
        n = 0
        for size in (500, 100, 20, 5, 1):
            while True:
                try:
                    db.execute(
                        "INSERT INTO excerpts (chat_id, round, passage_id, sent_at) VALUES (?, 0, ?, 0)",
                        (chat_id - 1, f"filler{n:06d}" + "x" * size),
                    )
                except sqlite3.OperationalError as exc:
                    assert "full" in str(exc)
                    break
                n += 1


def test_a_failed_write_reports_its_own_error_and_the_store_lives_on(sqlite_file: Path) -> None:
    """SQLite rolls back by itself on SQLITE_FULL; a second ROLLBACK must not hide why the write failed."""
    store = Store(sqlite_file)
    fill_to_the_brim(store, 5)
    with pytest.raises(StoreError, match="database or disk is full"):
        store.claim_excerpt(5, ["a", "b"])
    assert store.peek_excerpt(5, ["a", "b"]) == "a"  # reading still works, and nothing half-written shows
    sqlite_connection(store).execute("PRAGMA max_page_count=1073741823")  # space again
    assert store.claim_excerpt(5, ["a", "b"]) == "a"


# ---------------------------------------------------------------------- the delivery outbox


def test_delivery_outbox_lifecycle(store: Store) -> None:
    ids = ["a", "b", "c"]
    store.subscribe(3, "08:00", "Asia/Shanghai")
    assert store.claim_delivery(3, ids, "2025-03-01") == "a"
    assert store.delivery(3) == Delivery(3, "2025-03-01", "a", DeliveryState.CLAIMED)
    assert store.claim_delivery(3, ids, "2025-03-02") == "a"  # claimed, never sent: the same one, re-dated
    assert store.delivery(3).day == "2025-03-02" and store.excerpt_history(3) == [(0, "a")]
    assert store.settle_interrupted(3) is None  # only a row left in `sending` is settled
    store.set_delivery_state(3, DeliveryState.SENDING)
    settled = store.settle_interrupted(3)
    assert settled is not None and settled.passage_id == "a"
    assert store.delivery(3) is None and store.subscription(3).last_day == "2025-03-02"

    assert store.claim_delivery(3, ids, "2025-03-03") == "b"
    store.finish_delivery(3, "2025-03-01")  # an older day never moves last_day backwards
    assert store.delivery(3) is None and store.subscription(3).last_day == "2025-03-02"

    assert store.claim_delivery(3, ids, None) == "c"
    store.drop_delivery(3, give_back=True)  # never seen: back into the rotation
    assert store.delivery(3) is None and [pid for _, pid in store.excerpt_history(3)] == ["a", "b"]
    assert store.claim_delivery(3, ids, None) == "c"
    store.drop_delivery(3, give_back=False)  # refused by Telegram: stays consumed
    assert [pid for _, pid in store.excerpt_history(3)] == ["a", "b", "c"]


def test_a_claimed_passage_that_left_the_corpus_is_replaced(store: Store) -> None:
    assert store.claim_delivery(4, ["gone", "b"], "2025-03-01") == "gone"
    assert store.claim_delivery(4, ["b"], "2025-03-01") == "b"
    assert store.delivery(4).passage_id == "b"
    assert store.claim_delivery(4, [], "2025-03-01") is None and store.delivery(4) is None


VERSION_1 = """
CREATE TABLE subscriptions (chat_id INTEGER PRIMARY KEY, time TEXT NOT NULL, timezone TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1, last_day TEXT, updated_at REAL NOT NULL);
CREATE TABLE excerpts (chat_id INTEGER NOT NULL, round INTEGER NOT NULL, passage_id TEXT NOT NULL,
    sent_at REAL NOT NULL, PRIMARY KEY (chat_id, round, passage_id));
CREATE TABLE queries (id TEXT PRIMARY KEY, chat_id INTEGER, question TEXT NOT NULL, hits TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE INDEX queries_created ON queries (created_at);
INSERT INTO subscriptions VALUES (8, '08:00', 'Asia/Shanghai', 1, '2025-02-28', 0);
INSERT INTO excerpts VALUES (8, 0, 'a', 1.0);
PRAGMA user_version=1;
"""


def head_revision(store: Store) -> str | None:
    with store._engine.connect() as conn:
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def test_outbox_survives_restart_and_a_version_1_file_upgrades(sqlite_file: Path) -> None:
    """A file written before deliveries existed (SQLite user_version 1) is adopted with its rows, then migrated."""
    sqlite_file.parent.mkdir(parents=True)
    old = sqlite3.connect(sqlite_file)
    old.executescript(VERSION_1)
    old.close()
    first = Store(sqlite_file)
    assert first.subscription(8).last_day == "2025-02-28" and first.excerpt_history(8) == [(0, "a")]
    assert first.claim_delivery(8, ["a", "b"], "2025-03-01") == "b"
    first.close()
    second = Store(sqlite_file)
    assert second.delivery(8) == Delivery(8, "2025-03-01", "b", DeliveryState.CLAIMED)
    newest = ScriptDirectory(str(store_module.MIGRATIONS)).get_current_head()
    assert newest is not None and head_revision(second) == newest
    second.close()


def test_migrations_run_once_when_processes_start_together(db: str | Path) -> None:
    """Replicas start at the same moment: the migration lock lets one migrate and the others find it done."""
    opened: list[Store] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(Store(db))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(opened) == 4
    assert opened[0].subscribe(1, "08:00", "Asia/Shanghai").enabled
    assert all(s.subscription(1) is not None for s in opened)
    for s in opened:
        s.close()


# ---------------------------------------------------------------------- what replicas share


def test_holds_exclude_every_other_holder_until_released(db: str | Path) -> None:
    first, second = Store(db), Store(db)  # two processes' stores, as far as the database can tell
    assert first.try_hold("daily", 7) and not first.try_hold("daily", 7)  # not twice in one process either
    assert not second.try_hold("daily", 7) and second.try_hold("daily", 8)  # other keys are independent
    first.release("daily", 7)
    assert second.try_hold("daily", 7)
    second.close()  # a holder that goes away frees what it held
    assert first.try_hold("daily", 8)
    first.close()


def test_a_killed_holder_frees_its_hold(db: str | Path, tmp_path: Path) -> None:
    """kill -9 leaves no lease to expire: the lock dies with the connection (PostgreSQL) or the process (flock)."""
    import subprocess
    import sys

    script = (
        "import sys, os, signal, pathlib\n"
        "from bot.chat.store import Store\n"
        "target = sys.argv[1]\n"
        "s = Store(pathlib.Path(target) if not target.startswith('postgresql') else target)\n"
        "assert s.try_hold('reindex')\n"
        "print('held', flush=True)\n"
        "sys.stdin.readline()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    store = Store(db)
    assert not store.try_hold("reindex")
    holder.communicate("go\n", timeout=30)
    deadline = time.monotonic() + 10
    while not store.try_hold("reindex"):
        assert time.monotonic() < deadline, "the dead holder's lock was never freed"
        time.sleep(0.05)
    store.close()


def test_each_update_is_taken_once(db: str | Path) -> None:
    first, second = Store(db), Store(db)
    assert first.first_sighting(1001) and not second.first_sighting(1001) and not first.first_sighting(1001)
    assert second.first_sighting(1002)
    first.close()
    second.close()


def test_the_question_window_is_shared(db: str | Path) -> None:
    first, second = Store(db), Store(db)
    assert [s.rate_hit(5, 3, 60.0) for s in (first, second, first)] == [0.0, 0.0, 0.0]
    wait = second.rate_hit(5, 3, 60.0)
    assert 0 < wait <= 60.0 and first.rate_hit(6, 3, 60.0) == 0.0  # another user has a window of its own
    assert first.rate_notice(5, wait) and not second.rate_notice(5, wait)  # one notice per refusal period
    assert second.rate_hit(5, 3, 0.001) == 0.0  # events older than the window no longer count
    first.close()
    second.close()


def test_the_published_index_version(db: str | Path) -> None:
    first, second = Store(db), Store(db)
    assert second.index_version() is None
    first.publish_index("20250301T080000-a")
    first.publish_index("20250302T080000-b")
    assert second.index_version() == "20250302T080000-b"
    first.close()


# --------------------------------------------------------------------------- feedback, gaps and the daily quiz


def test_one_vote_per_user_per_answer_and_the_latest_counts(store: Store) -> None:
    answer = store.save_query(5, "积分超市怎么兑换？", [("p1", "a1"), ("p2", "a2")])
    assert store.vote(answer, 11, up=False) is True
    assert store.vote(answer, 11, up=False) is False  # the same vote again changes nothing
    assert store.vote(answer, 12, up=False) is True
    ((down, _),) = store.voted_down(0)
    assert (down.id, down.question, down.hits[0]) == (answer, "积分超市怎么兑换？", ("p1", "a1"))
    assert store.vote(answer, 11, up=True) is True and store.vote(answer, 13, up=True) is True
    assert store.voted_down(0) == []  # mostly up now
    assert store.vote("no-such-answer", 11, up=True) is None


def test_refusals_are_kept_newest_first_and_pruned(store: Store, monkeypatch) -> None:
    clock = [1_000_000_000.0]
    monkeypatch.setattr(store_module.time, "time", lambda: clock[0])
    store.log_refusal(5, "金寨县的积分超市？", "absent_place")
    clock[0] += 60
    store.log_refusal(None, "党费怎么交", "no_match")
    assert [r[1] for r in store.refusals(0)] == ["党费怎么交", "金寨县的积分超市？"]
    assert [r[1] for r in store.refusals(clock[0])] == ["党费怎么交"]
    clock[0] += store_module.QUERY_TTL_SECONDS + 1
    store.log_refusal(5, "新问题", "no_match")
    assert [r[1] for r in store.refusals(0)] == ["新问题"]


def test_quiz_switch_answers_and_standing_survive_a_restart(db: str | Path) -> None:
    first = Store(db)
    assert first.quiz_enabled(-7) is False
    first.set_quiz(-7, True)
    first.set_quiz(-7, True)
    first.save_quiz_poll("poll-1", -7, 100, "p1", correct=2)
    first.save_quiz_poll("poll-2", -7, 101, "p2", correct=0)
    assert first.record_quiz_answer("poll-1", 21, "张三", [2]) is True
    assert first.record_quiz_answer("poll-1", 22, "李四", [1]) is False
    assert first.record_quiz_answer("someone-elses-poll", 21, "张三", [0]) is None
    first.close()
    second = Store(db)
    assert second.quiz_enabled(-7) is True
    assert second.record_quiz_answer("poll-2", 22, "李四", [0]) is True
    assert second.record_quiz_answer("poll-2", 22, "李四", [1]) is True  # Telegram allows one answer: the first stays
    sent, rows = second.quiz_standing(-7, 0)
    assert sent == 2 and rows == [(22, "李四", 2, 1), (21, "张三", 1, 1)]  # as many right, more answered
    assert second.quiz_standing(-8, 0) == (0, [])
    assert second.quiz_standing(-7, time.time() + 60) == (0, [])
    second.close()


def test_a_digest_is_claimed_once_per_period(db: str | Path) -> None:
    first, second = Store(db), Store(db)  # two replicas
    assert first.claim_digest("weekly_gaps", "2026-11-30") is True
    assert second.claim_digest("weekly_gaps", "2026-11-30") is False
    assert second.claim_digest("weekly_gaps", "2026-12-07") is True
    first.close()
    second.close()
