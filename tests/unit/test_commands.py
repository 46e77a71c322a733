"""bot.chat.commands: the one registry behind the Telegram menu, /help in both channels and both dispatchers."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Chat, User
from telegram.ext import CommandHandler

from bot.chat import commands, replies, telegram_app
from bot.chat.commands import COMMANDS, Access, Channel, Command, Request, find, help_text, listing, menu
from bot.chat.console import ConsoleSession
from bot.chat.core import Reply
from bot.chat.telegram_io import CORE, Turn, core_of
from bot.settings import Settings

CHANNELS = list(Channel)


def console(core: Any = None) -> tuple[ConsoleSession, io.StringIO]:
    out = io.StringIO()
    return ConsoleSession(core, out), out


def test_names_are_unique_across_commands_and_aliases() -> None:
    words = [word for c in COMMANDS for word in (c.name, *c.aliases)]
    assert len(words) == len(set(words))
    assert all(c.channels for c in COMMANDS) and all(c.unlisted <= c.channels for c in COMMANDS)


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_command_has_a_handler_in_each_of_its_channels(channel: Channel) -> None:
    session, _ = console()
    for command in commands.in_channel(channel):
        handler = telegram_app.handler_for(command) if channel is Channel.TELEGRAM else session.handler_for(command)
        assert callable(handler), command.name


def test_own_handlers_belong_to_commands_of_that_channel() -> None:
    """A handler left behind for a command that was dropped from the registry (or from that channel)."""
    telegram = {c.name for c in commands.in_channel(Channel.TELEGRAM)}
    terminal = {c.name for c in commands.in_channel(Channel.CONSOLE)}
    assert set(telegram_app.HANDLERS) <= telegram
    assert set(console()[0].own_handlers) <= terminal


def test_a_command_without_any_handler_is_caught() -> None:
    orphan = Command("orphan", "没有处理函数的命令")
    with pytest.raises(LookupError):
        telegram_app.handler_for(orphan)
    with pytest.raises(LookupError):
        console()[0].handler_for(orphan)


def test_registry_rules() -> None:
    with pytest.raises(ValueError):
        Command("Bad-Name", "名字不合规")
    with pytest.raises(ValueError):
        Command("secret", "管理员命令", access=Access.BOT_ADMINS)  # no action for its refusal
    reindex, daily = find("reindex", Channel.TELEGRAM), find("daily", Channel.TELEGRAM)
    assert reindex and reindex.refusal() == "抱歉，只有管理员可以更新索引。你可以直接向我提问。"
    assert daily and daily.refusal() == "只有群管理员可以设置本群的每日摘录。"
    assert find("QUIT", Channel.CONSOLE) is find("exit", Channel.CONSOLE) is find("q", Channel.CONSOLE)
    assert find("quit", Channel.TELEGRAM) is None and find("more", Channel.TELEGRAM) is None


def test_menu_is_the_registry_in_order() -> None:
    expected = [c.name for c in COMMANDS if Channel.TELEGRAM in c.channels and Channel.TELEGRAM not in c.unlisted]
    assert [name for name, _ in menu()] == expected
    assert expected == [
        "ask",
        "new",
        "today",
        "daily",
        "quiz",
        "rank",
        "sources",
        "help",
        "about",
        "start",
        "reindex",
        "gaps",
    ]
    assert dict(menu())["reindex"] == "更新索引（仅管理员）"  # the console's user is its admin: no mark there
    assert dict(listing(Channel.CONSOLE))["reindex"] == "更新索引"


@pytest.mark.parametrize("channel", CHANNELS)
def test_help_lists_exactly_the_channel_listing(channel: Channel) -> None:
    text = help_text(channel)
    listed = [line for line in text.splitlines() if line.startswith("/") and " — " in line]
    assert listed == [f"/{name} — {channel.style.esc(description)}" for name, description in listing(channel)]
    for command in COMMANDS:
        assert (f"/{command.name} — " in text) == command.listed_in(channel), command.name


@pytest.mark.parametrize("channel", CHANNELS)
def test_help_command_answers_with_the_derived_text(channel: Channel) -> None:
    command = find("help", channel)
    assert command and command.run
    assert command.run(None, Request(channel, 0)).texts == [help_text(channel)]


def test_build_application_registers_the_registry(tmp_path) -> None:
    settings = Settings(_env_file=None, telegram_bot_token="123:TEST", data_dir=tmp_path)
    app = telegram_app.build_application(settings, searcher=None)
    try:
        registered = [h.commands for h in app.handlers[0] if isinstance(h, CommandHandler)]
        assert registered == [frozenset({c.name, *c.aliases}) for c in commands.in_channel(Channel.TELEGRAM)]
    finally:
        core_of(app).store.close()


# --------------------------------------------------------------------------- console dispatch


class StubCore:
    """Only what the console's generic dispatch reaches; the real Core is covered by tests/model."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None]] = []

    def today(self, chat_id: int, style: replies.Style) -> Reply:
        self.calls.append(("today", chat_id))
        return Reply(["摘录"])

    def sources(self, style: replies.Style) -> Reply:
        self.calls.append(("sources", None))
        return Reply(["资料库概况"])

    def about(self, style: replies.Style) -> Reply:
        self.calls.append(("about", None))
        return Reply(["关于"])


def test_console_dispatches_simple_commands_through_the_core() -> None:
    core = StubCore()
    session, out = console(core)
    for line in ("/today", "/SOURCES", "/about@PartyBot", "/help", "/start"):
        assert session.handle(line) is True
    assert core.calls == [("today", 0), ("sources", None), ("about", None)]
    text = out.getvalue()
    assert "摘录" in text and "资料库概况" in text and help_text(Channel.CONSOLE) in text
    assert replies.start(replies.PLAIN) in text


def test_console_own_handlers_and_unknown_commands() -> None:
    session, out = console(StubCore())
    session.handle("/daily 08:00")
    session.handle("/more")
    session.handle("/ask")
    session.handle("/reindexx")
    text = out.getvalue()
    assert replies.daily_console() in text and replies.no_previous_answer() in text
    assert replies.ask_usage() in text and "不认识的命令 /reindexx" in text
    assert session.handle("/exit") is False and session.handle("/quit") is False


# --------------------------------------------------------------------------- Telegram access


class MemberBot:
    def __init__(self, status: str) -> None:
        self.status = status
        self.asked: list[tuple[int, int]] = []

    async def get_chat_member(self, chat_id: int, user_id: int) -> SimpleNamespace:
        self.asked.append((chat_id, user_id))
        return SimpleNamespace(status=self.status)


def context_with(status: str = "member", admins: tuple[int, ...] = ()) -> Any:
    core = SimpleNamespace(is_admin=lambda user_id: user_id in admins)
    return SimpleNamespace(application=SimpleNamespace(bot_data={CORE: core}), bot=MemberBot(status))


def turn(chat_type: str, user_id: int = 7) -> Turn:
    return Turn(Chat(-100 if chat_type != "private" else user_id, chat_type), None, User(user_id, "u", False))


async def test_access_follows_the_registry() -> None:
    reindex, daily, today = (find(name, Channel.TELEGRAM) for name in ("reindex", "daily", "today"))
    assert reindex and daily and today
    assert not await telegram_app.may_use(reindex, turn("private"), context_with())
    assert await telegram_app.may_use(reindex, turn("group"), context_with(admins=(7,)))
    assert await telegram_app.may_use(daily, turn("private"), context_with())
    member = context_with("member")
    assert not await telegram_app.may_use(daily, turn("group"), member) and member.bot.asked == [(-100, 7)]
    assert await telegram_app.may_use(daily, turn("supergroup"), context_with("administrator"))
    assert await telegram_app.may_use(today, turn("group"), context_with())
