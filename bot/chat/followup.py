"""Each conversation's thread (bot.retrieval.rewrite.Thread), kept for a few minutes after its last answer.

A conversation is one member in one chat: in a group two members asking at once each follow their own
question. The threads live in this process's memory only — a restart, or a second process, forgets them,
which costs a member one question asked in full. Expired threads are dropped as new ones arrive, so the
map never outgrows the members active within the expiry time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bot.retrieval.rewrite import Thread

PRUNE_EVERY = 256
Key = tuple[int, int | None]  # (chat id, user id)


class Conversations:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._threads: dict[Key, tuple[float, Thread]] = {}
        self._puts = 0
        self._lock = threading.Lock()

    def get(self, key: Key) -> Thread | None:
        """The conversation's thread, or None when there is none or it has expired."""
        now = self.clock()
        with self._lock:
            found = self._threads.get(key)
            if found is None or found[0] <= now:
                self._threads.pop(key, None)
                return None
            return found[1]

    def put(self, key: Key, thread: Thread) -> None:
        if self.ttl <= 0:
            return
        now = self.clock()
        with self._lock:
            self._threads[key] = (now + self.ttl, thread)
            self._puts += 1
            if self._puts % PRUNE_EVERY == 0:
                for old in [k for k, (until, _) in self._threads.items() if until <= now]:
                    del self._threads[old]

    def forget(self, key: Key) -> bool:
        """True when there was a live thread to forget."""
        with self._lock:
            found = self._threads.pop(key, None)
        return found is not None and found[0] > self.clock()
