"""Terminal channel: the same Core and answer() as the bot, plain text, one line of stdin at a time.

Reads stdin line by line (no readline tricks), so tests and scripts can drive it through a pipe.
The two inline buttons become /more and /full; the local user is the admin of their own machine.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from bot.chat import commands, replies
from bot.chat.commands import Channel, Command, Request
from bot.chat.core import Core, Reply
from bot.chat.replies import PLAIN
from bot.chat.store import Store
from bot.settings import Settings

CONSOLE_CHAT = 0  # the console's own excerpt rotation, stored answers and conversation (its user, too)
PROGRESS_EVERY = 1.0


class ConsoleSession:
    def __init__(self, core: Core, out: TextIO) -> None:
        self.core, self.out = core, out
        self.last_query: str | None = None
        self.open = True
        self.own_handlers: dict[str, Callable[[str], None]] = {
            "ask": self.ask_command,
            "more": lambda _: self.more(),
            "full": self.full,
            "daily": lambda _: self.say(Reply([replies.daily_console()])),
            "reindex": lambda _: self.reindex(),
            "gaps": self.gaps,
            "quit": lambda _: self.close(),
        }

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
            return self.open
        word, _, argument = line.partition(" ")
        name = word[1:].split("@", 1)[0].lower()
        command = commands.find(name, Channel.CONSOLE)
        if command is None:
            self.say(Reply([replies.unknown_command("/" + name, PLAIN)]))
        else:
            self.handler_for(command)(argument.strip())
        return self.open

    def handler_for(self, command: Command) -> Callable[[str], None]:
        """The session's own handler, or the generic one that shows what the Core replies."""
        own = self.own_handlers.get(command.name)
        if own is not None:
            return own
        run = command.run
        if run is None:
            raise LookupError(f"/{command.name} is a console command but has no console handler")
        return lambda argument: self.say(run(self.core, Request(Channel.CONSOLE, CONSOLE_CHAT, argument, CONSOLE_CHAT)))

    def close(self) -> None:
        self.open = False

    def ask_command(self, argument: str) -> None:
        if argument:
            self.ask(argument)
        else:
            self.say(Reply([replies.ask_usage()]))

    def ask(self, question: str) -> None:
        reply = self.core.ask(question, PLAIN, CONSOLE_CHAT, CONSOLE_CHAT)
        if reply.query_id:
            self.last_query = reply.query_id
        self.say(reply)
        if reply.gap:
            self.core.record_refusal(CONSOLE_CHAT, question, reply.gap)

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

    def gaps(self, argument: str) -> None:
        """The grouped text, and the questions written beside the state file as .jsonl in the eval format."""
        report = self.core.gaps(argument, PLAIN)
        self.say(report.reply)
        if report.jsonl:
            path = self.core.settings.data_dir / report.filename
            path.write_text(report.jsonl, encoding="utf-8")
            self.say(Reply([replies.gaps_saved(str(path))]))

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
    store = Store(settings.store_target)
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
