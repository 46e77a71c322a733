"""The one list of commands: the Telegram menu, /help in both channels and both dispatchers derive from it.

A command whose work is "ask the Core, show the Reply" sets `run`, and every channel dispatches it with no
code of its own. A command that needs more from its channel (rate limits, schedules, progress messages,
console state) leaves `run` unset, and each of its channels registers a handler under its name; the unit
tests fail when one is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from bot.chat import replies
from bot.chat.core import Core, Reply
from bot.chat.replies import HTML, PLAIN, Style


class Channel(Enum):
    TELEGRAM = "telegram"
    CONSOLE = "console"

    @property
    def style(self) -> Style:
        return HTML if self is Channel.TELEGRAM else PLAIN


class Access(Enum):
    EVERYONE = "everyone"
    BOT_ADMINS = "bot admins"  # Settings.admin_ids; the console's local user is always one
    GROUP_ADMINS = "group admins"  # in a group its admins (or a bot admin); anyone in a private chat


BOTH = frozenset(Channel)
TELEGRAM = frozenset({Channel.TELEGRAM})
CONSOLE = frozenset({Channel.CONSOLE})


@dataclass(frozen=True)
class Request:
    channel: Channel
    chat_id: int
    argument: str = ""
    user_id: int | None = None  # who sent it; a conversation is one member in one chat

    @property
    def style(self) -> Style:
        return self.channel.style


Run = Callable[[Core, Request], Reply]


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    channels: frozenset[Channel] = BOTH
    access: Access = Access.EVERYONE
    action: str = ""  # what a refused user may not do: "只有管理员可以{action}"
    unlisted: frozenset[Channel] = frozenset()  # answered there, but not offered in its menu or /help
    aliases: tuple[str, ...] = ()
    run: Run | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]{1,32}", self.name):
            raise ValueError(f"Telegram rejects the command name {self.name!r}")
        if self.access is not Access.EVERYONE and not self.action:
            raise ValueError(f"/{self.name} is restricted, so its refusal needs an action")

    def listed_in(self, channel: Channel) -> bool:
        return channel in self.channels and channel not in self.unlisted

    def description_in(self, channel: Channel) -> str:
        """The console's user owns the machine, so only Telegram warns that a command is for admins."""
        if channel is Channel.TELEGRAM and self.access is Access.BOT_ADMINS:
            return replies.admin_only_mark(self.description)
        return self.description

    def refusal(self) -> str:
        if self.access is Access.GROUP_ADMINS:
            return replies.group_admin_only(self.action)
        return replies.admin_only(self.action)


def _help(core: Core, request: Request) -> Reply:
    return Reply([help_text(request.channel)])


COMMANDS: tuple[Command, ...] = (
    Command("ask", "提问，例如 /ask 3+1帮带制是怎么运作的", unlisted=CONSOLE),
    Command("new", "换个话题：下一句不再接着上一个问题", run=lambda core, r: core.forget(r.chat_id, r.user_id)),
    Command("more", "上一个回答的更多结果", channels=CONSOLE),
    Command("full", "阅读上一个回答的全文（/full 2 读第 2 条结果的全文）", channels=CONSOLE),
    Command("today", "现在读一段文章摘录", run=lambda core, r: core.today(r.chat_id, r.style)),
    Command(
        "daily",
        "每日摘录：/daily 08:00 订阅，/daily off 取消",
        access=Access.GROUP_ADMINS,
        action="设置本群的每日摘录",
        unlisted=CONSOLE,  # the console only explains that it has no daily delivery
    ),
    Command(
        "quiz",
        "每日一题：/quiz on 在每日摘录后附一道选择题，/quiz off 关闭",
        channels=TELEGRAM,
        access=Access.GROUP_ADMINS,
        action="设置本群的每日一题",
        run=lambda core, r: core.quiz(r.chat_id, r.argument),
    ),
    Command("rank", "本周每日一题的答题排行", channels=TELEGRAM, run=lambda core, r: core.rank(r.chat_id, r.style)),
    Command("sources", "资料库收录了哪些文章", run=lambda core, r: core.sources(r.style)),
    Command("help", "使用说明", run=_help),
    Command("about", "关于本机器人", run=lambda core, r: core.about(r.style)),
    Command("start", "开始使用", unlisted=CONSOLE, run=lambda core, r: Reply([replies.start(r.style)])),
    Command("reindex", "更新索引", access=Access.BOT_ADMINS, action="更新索引"),
    Command(
        "gaps",
        "资料缺口：最近答不上或被点 👎 的问题（/gaps 30 看 30 天）",
        access=Access.BOT_ADMINS,
        action="查看资料缺口",
    ),
    Command("quit", "退出", channels=CONSOLE, aliases=("exit", "q")),
)


def in_channel(channel: Channel) -> list[Command]:
    return [command for command in COMMANDS if channel in command.channels]


def find(name: str, channel: Channel) -> Command | None:
    name = name.lower()
    return next((c for c in in_channel(channel) if name == c.name or name in c.aliases), None)


def listing(channel: Channel) -> list[tuple[str, str]]:
    """(name, description) in registry order: Telegram's setMyCommands menu, and the lines of /help."""
    return [(c.name, c.description_in(channel)) for c in COMMANDS if c.listed_in(channel)]


def menu() -> list[tuple[str, str]]:
    return listing(Channel.TELEGRAM)


def help_text(channel: Channel) -> str:
    return replies.help_text(channel.style, listing(channel), console=channel is Channel.CONSOLE)
