"""The edges of every Telegram handler: what an update is known to carry, and how a `Reply` goes out.

PTB types a message's chat, sender and text as optional because some updates lack them. `on_turn` checks
once, at the boundary, so handlers get a `Turn` they can rely on instead of re-checking each attribute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, Update, User
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot.chat import replies
from bot.chat.core import Core, Reply

log = logging.getLogger(__name__)

CORE = "core"
BUTTONS_PER_ROW = 3
TYPING_EVERY = 4.5  # Telegram shows "typing" for about 5 s

Context = ContextTypes.DEFAULT_TYPE
UpdateHandler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def core_of(app_or_context: Application | Context) -> Core:
    app = app_or_context if isinstance(app_or_context, Application) else app_or_context.application
    core: Core = app.bot_data[CORE]
    return core


def quote_in_groups(chat: Chat, message: Message | None) -> int | None:
    """In a group the reply quotes the question, so the thread stays readable; private chats need no quote."""
    return message.message_id if message is not None and chat.type != ChatType.PRIVATE else None


def command_argument(message: Message) -> str:
    """Everything after the command word, line breaks kept (context.args would re-join on spaces)."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


@dataclass(frozen=True)
class Turn:
    chat: Chat
    message: Message
    user: User | None

    @property
    def reply_to(self) -> int | None:
        return quote_in_groups(self.chat, self.message)

    @property
    def argument(self) -> str:
        return command_argument(self.message)

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None


TurnHandler = Callable[[Turn, Context], Awaitable[None]]


def on_turn(handler: TurnHandler) -> UpdateHandler:
    """An update without a chat or a message has nobody to answer, so it never reaches the handler."""

    async def handle(update: Update, context: Context) -> None:
        chat, message = update.effective_chat, update.effective_message
        if chat is not None and message is not None:
            await handler(Turn(chat, message, update.effective_user), context)

    return handle


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Rows of BUTTONS_PER_ROW; the 👍/👎 votes get a row of their own, last."""
    if not reply.buttons:
        return None
    buttons = [InlineKeyboardButton(b.label, callback_data=b.data) for b in reply.buttons if not b.vote]
    votes = [InlineKeyboardButton(b.label, callback_data=b.data) for b in reply.buttons if b.vote]
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    return InlineKeyboardMarkup(rows + [votes] if votes else rows)


async def send_reply(context: Context, chat_id: int, reply: Reply, reply_to: int | None = None) -> list[Message]:
    """All parts in order; the buttons go under the last part, the quote on the first."""
    sent: list[Message] = []
    for i, text in enumerate(reply.texts):
        last = i == len(reply.texts) - 1
        quote = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to and i == 0 else None
        mode: str | None = ParseMode.HTML
        if replies.units(text) > replies.TELEGRAM_LIMIT:
            log.error(
                "a reply of %d units is over Telegram's limit; sending it cut, as plain text", replies.units(text)
            )
            text, mode = replies.fit_plain(text), None
        sent.append(
            await context.bot.send_message(
                chat_id, text, parse_mode=mode, reply_markup=keyboard(reply) if last else None, reply_parameters=quote
            )
        )
    return sent


@contextlib.asynccontextmanager
async def typing(context: Context, chat_id: int) -> AsyncIterator[None]:
    """'typing…' for as long as the work takes; the first action goes out before the work starts."""
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def keep() -> None:
        while True:
            await asyncio.sleep(TYPING_EVERY)
            with contextlib.suppress(TelegramError):
                await context.bot.send_chat_action(chat_id, ChatAction.TYPING)

    task = asyncio.create_task(keep())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
