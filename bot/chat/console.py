"""Terminal channel: the same Core and answer() as the bot, plain text, one line of stdin at a time.

Reads stdin line by line (no readline tricks), so tests and scripts can drive it through a pipe.
The two inline buttons become /more and /full; the local user is the admin of their own machine.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from bot.chat import replies
from bot.chat.core import Core, Reply
from bot.chat.replies import PLAIN
from bot.chat.store import Store
from bot.settings import Settings

CONSOLE_CHAT = 0  # the console's own excerpt rotation and stored answers
PROGRESS_EVERY = 1.0


class ConsoleSession:
    def __init__(self, core: Core, out: TextIO) -> None:
        self.core, self.out = core, out
        self.last_query: str | None = None
        self.last_more: Reply | None = None

    def say(self, reply: Reply) -> None:
        for text in reply.texts:
            print(text, file=self.out)
        if reply.buttons:
            print(replies.console_buttons([(b.label, b.action, b.rank) for b in reply.buttons]), file=self.out)
        print(file=self.out)
        self.out.flush()

    def handle(self, line: str) -> bool:
        """One input line; False once the user wants to leave."""
        line = line.strip()
        if not line.startswith("/"):
            self.ask(line)
            return True
        command, _, argument = line.partition(" ")
        command = command[1:].split("@", 1)[0].lower()
        argument = argument.strip()
        if command in ("quit", "exit", "q"):
            return False
        handler = {
            "ask": lambda: self.ask(argument) if argument else self.say(Reply([replies.ask_usage()])),
            "more": self.more,
            "full": lambda: self.full(argument),
            "today": lambda: self.say(self.core.today(CONSOLE_CHAT, PLAIN)),
            "daily": lambda: self.say(Reply([replies.daily_console()])),
            "sources": lambda: self.say(self.core.sources(PLAIN)),
            "about": lambda: self.say(self.core.about(PLAIN)),
            "help": lambda: self.say(Reply([replies.help_text(PLAIN, console=True)])),
            "start": lambda: self.say(Reply([replies.start(PLAIN)])),
            "reindex": self.reindex,
        }.get(command)
        if handler is None:
            self.say(Reply([replies.unknown_command("/" + command, PLAIN)]))
        else:
            handler()
        return True

    def ask(self, question: str) -> None:
        reply = self.core.ask(question, PLAIN, CONSOLE_CHAT)
        if reply.query_id:
            self.last_query = reply.query_id
        self.say(reply)

    def more(self) -> None:
        if self.last_query is None:
            self.say(Reply([replies.no_previous_answer()]))
            return
        self.say(self.core.more(self.last_query, PLAIN))

    def full(self, argument: str) -> None:
        if self.last_query is None:
            self.say(Reply([replies.no_previous_answer()]))
            return
        rank = int(argument) if argument.isdigit() else 1
        self.say(self.core.full(self.last_query, rank, PLAIN))

    def reindex(self) -> None:
        if not self.core.try_begin_reindex():
            self.say(Reply([replies.reindex_busy()]))
            return
        shown = [0.0]

        def on_progress(done: int, total: int) -> None:
            if time.monotonic() - shown[0] >= PROGRESS_EVERY or done == total:
                shown[0] = time.monotonic()
                print(replies.reindex_progress(done, total), file=self.out, flush=True)

        print(replies.reindex_started(), file=self.out, flush=True)
        try:
            text = self.core.reindex_text(self.core.rebuild(on_progress), PLAIN)
        except Exception as exc:  # a failed build leaves the old index serving; say so and carry on
            text = replies.reindex_failed(exc, PLAIN)
        finally:
            self.core.end_reindex()
        self.say(Reply([text]))


def run_console(settings: Settings, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    from bot.engine import open_searcher
    from bot.retrieval.search import IndexMissing

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    try:
        searcher = open_searcher(settings)
    except IndexMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    store = Store(settings.db_path)
    session = ConsoleSession(Core(settings, searcher, store), stdout)
    interactive = stdin.isatty()
    print(replies.console_hint(), file=stdout, flush=True)
    try:
        while True:
            if interactive:
                print("问> ", end="", file=stdout, flush=True)
            line = stdin.readline()
            if not line or not session.handle(line.rstrip("\n")):
                break
    except KeyboardInterrupt:
        print(file=stdout)
    finally:
        store.close()
    return 0
