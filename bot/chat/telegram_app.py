"""The Telegram channel: PTB wiring, short handlers and the daily-excerpt jobs around `bot.chat.core.Core`.

`build_application(settings, searcher)` is the one place the Application is assembled (API base URLs,
rate limiter, handlers, post_init); `run_bot(settings)` loads the searcher once and polls or serves a
webhook. Handlers only translate updates into Core calls; every text comes from `bot.chat.replies`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import re
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot.chat import replies
from bot.chat.core import Core, Reply, parse_button, safe_filename
from bot.chat.daily import local_day, missed_today, time_of_day
from bot.chat.replies import HTML
from bot.chat.store import Store, Subscription
from bot.retrieval.search import Searcher
from bot.settings import Settings

log = logging.getLogger(__name__)

CORE = "core"
EXCERPT_INTERVAL = "excerpt_interval"
PROGRESS_EVERY = 1.0  # seconds between edits of the /reindex progress message
TYPING_EVERY = 4.5  # Telegram shows "typing" for about 5 s
CATCH_UP_DELAY = 5.0  # seconds after start-up before a missed daily excerpt is sent
SEND_ATTEMPTS = 4

SENT, SKIPPED, EMPTY, UNSUBSCRIBED, FAILED = "sent", "skipped", "empty", "unsubscribed", "failed"

Context = ContextTypes.DEFAULT_TYPE


@dataclass(frozen=True)
class ExcerptJob:
    daily: bool  # True: once per local day (run_daily); False: every interval (tests, demos)


# ---------------------------------------------------------------------- assembly


def build_application(
    settings: Settings, searcher: Searcher, *, excerpt_interval: float | None = None, telegram_limits: bool = True
) -> Application:
    """The whole bot. `excerpt_interval` (seconds) replaces the daily schedule with a repeating one, for tests;
    `telegram_limits=False` drops PTB's AIORateLimiter (benchmarks measuring the bot itself)."""
    base = settings.telegram_api_base_url.rstrip("/")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .concurrent_updates(True)  # a slow answer or a reindex never holds up other chats
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if telegram_limits:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=2))
    app = builder.build()
    app.bot_data[CORE] = Core(settings, searcher, Store(settings.db_path))
    app.bot_data[EXCERPT_INTERVAL] = excerpt_interval
    new = filters.UpdateType.MESSAGE  # edited messages are not new questions
    app.add_handler(CommandHandler("start", on_start, filters=new))
    app.add_handler(CommandHandler("help", on_help, filters=new))
    app.add_handler(CommandHandler("about", on_about, filters=new))
    app.add_handler(CommandHandler("ask", on_ask, filters=new))
    app.add_handler(CommandHandler("today", on_today, filters=new))
    app.add_handler(CommandHandler("daily", on_daily, filters=new))
    app.add_handler(CommandHandler("sources", on_sources, filters=new))
    app.add_handler(CommandHandler("reindex", on_reindex, filters=new))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(new & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, on_private_text))
    app.add_handler(MessageHandler(new & filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND, on_group_text))
    app.add_handler(MessageHandler(new & filters.ChatType.PRIVATE & filters.Document.ALL, on_document))
    app.add_handler(MessageHandler(new & filters.ChatType.PRIVATE & filters.COMMAND, on_unknown_command))
    app.add_error_handler(on_error)
    return app


def core_of(app_or_context: Application | Context) -> Core:
    app = app_or_context if isinstance(app_or_context, Application) else app_or_context.application
    return app.bot_data[CORE]


async def _post_init(app: Application) -> None:
    await app.bot.set_my_commands([BotCommand(name, text) for name, text in replies.COMMANDS])
    restored = restore_daily(app)
    log.info("bot @%s ready; %d daily subscriptions restored", app.bot.username, restored)


async def _post_shutdown(app: Application) -> None:
    core_of(app).store.close()


def webhook_options(settings: Settings) -> dict:
    """Arguments for run_webhook/start_webhook; the secret defaults to one derived from the token."""
    url = settings.webhook_url
    secret = settings.webhook_secret or hashlib.sha256(settings.telegram_bot_token.encode()).hexdigest()[:32]
    return {
        "listen": settings.webhook_listen,
        "port": settings.webhook_port,
        "url_path": urlsplit(url).path.lstrip("/"),
        "webhook_url": url,
        "secret_token": secret,
    }


def run_bot(settings: Settings) -> int:
    if not settings.telegram_bot_token:
        print("未设置 TELEGRAM_BOT_TOKEN，无法启动机器人。", file=sys.stderr)
        return 2
    from bot.engine import open_searcher
    from bot.retrieval.search import IndexMissing

    logging.getLogger("bot").setLevel(logging.INFO)
    try:
        searcher = open_searcher(settings)
    except IndexMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    app = build_application(settings, searcher)
    if settings.webhook_url:
        log.info("webhook mode: %s", settings.webhook_url)
        app.run_webhook(**webhook_options(settings), allowed_updates=Update.ALL_TYPES)
    else:
        log.info("polling mode")
        app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


# ---------------------------------------------------------------------- sending


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data) for b in reply.buttons]])


async def send_reply(context: Context, chat_id: int, reply: Reply, reply_to: int | None = None) -> list[Message]:
    """All parts in order; the buttons go under the last part, the quote on the first."""
    sent: list[Message] = []
    for i, text in enumerate(reply.texts):
        last = i == len(reply.texts) - 1
        quote = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to and i == 0 else None
        sent.append(
            await context.bot.send_message(
                chat_id, text, reply_markup=keyboard(reply) if last else None, reply_parameters=quote
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


def _quote_in_groups(update: Update) -> int | None:
    """In a group the reply quotes the question, so the thread stays readable; private chats need no quote."""
    chat, message = update.effective_chat, update.effective_message
    return message.message_id if chat and message and chat.type != ChatType.PRIVATE else None


# ---------------------------------------------------------------------- questions


async def answer_question(update: Update, context: Context, question: str) -> None:
    core = core_of(context)
    chat, user = update.effective_chat, update.effective_user
    reply_to = _quote_in_groups(update)
    wait = core.limiter.hit(user.id if user else chat.id)
    if wait > 0:
        text = replies.rate_limited(wait, core.settings.questions_per_minute)
        await send_reply(context, chat.id, Reply([text], ok=False), reply_to)
        return
    async with typing(context, chat.id):
        reply = await asyncio.to_thread(core.ask, question, HTML, chat.id)
    await send_reply(context, chat.id, reply, reply_to)


def command_argument(message: Message) -> str:
    """Everything after the command word, line breaks kept (context.args would re-join on spaces)."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def addressed_question(message: Message, bot_id: int, username: str) -> str | None:
    """The question in a group message meant for the bot (@mention or reply to it); None for chatter."""
    text = message.text or ""
    handle = f"@{username}".lower()
    mentioned = any(
        (entity.type == MessageEntity.MENTION and value.lower() == handle)
        or (entity.type == MessageEntity.TEXT_MENTION and entity.user is not None and entity.user.id == bot_id)
        for entity, value in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items()
    )
    replied = (
        message.reply_to_message is not None
        and message.reply_to_message.from_user is not None
        and message.reply_to_message.from_user.id == bot_id
    )
    if not (mentioned or replied):
        return None
    return re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE).strip() if username else text


async def on_private_text(update: Update, context: Context) -> None:
    await answer_question(update, context, update.effective_message.text or "")


async def on_group_text(update: Update, context: Context) -> None:
    question = addressed_question(update.effective_message, context.bot.id, context.bot.username or "")
    if question is not None:
        await answer_question(update, context, question)


async def on_ask(update: Update, context: Context) -> None:
    question = command_argument(update.effective_message)
    if not question:
        await send_reply(context, update.effective_chat.id, Reply([replies.ask_usage()]), _quote_in_groups(update))
        return
    await answer_question(update, context, question)


async def on_button(update: Update, context: Context) -> None:
    """更多结果 / 阅读全文: the hit list comes from SQLite, so buttons keep working after a restart."""
    query = update.callback_query
    core = core_of(context)
    parsed = parse_button(query.data or "")
    chat = update.effective_chat
    if parsed is None or chat is None:
        await query.answer(replies.expired(), show_alert=True)
        return
    action, query_id, rank = parsed
    if action == "more":
        reply = await asyncio.to_thread(core.more, query_id, HTML)
    else:
        reply = await asyncio.to_thread(core.full, query_id, rank, HTML)
    if not reply.ok:
        await query.answer(reply.texts[0], show_alert=True)
        return
    await query.answer()
    await send_reply(context, chat.id, reply, _quote_in_groups(update))


# ---------------------------------------------------------------------- simple commands


async def on_start(update: Update, context: Context) -> None:
    await send_reply(context, update.effective_chat.id, Reply([replies.start(HTML)]), _quote_in_groups(update))


async def on_help(update: Update, context: Context) -> None:
    await send_reply(context, update.effective_chat.id, Reply([replies.help_text(HTML)]), _quote_in_groups(update))


async def on_about(update: Update, context: Context) -> None:
    reply = await asyncio.to_thread(core_of(context).about, HTML)
    await send_reply(context, update.effective_chat.id, reply, _quote_in_groups(update))


async def on_sources(update: Update, context: Context) -> None:
    reply = await asyncio.to_thread(core_of(context).sources, HTML)
    await send_reply(context, update.effective_chat.id, reply, _quote_in_groups(update))


async def on_today(update: Update, context: Context) -> None:
    reply = await asyncio.to_thread(core_of(context).today, update.effective_chat.id, HTML)
    await send_reply(context, update.effective_chat.id, reply, _quote_in_groups(update))


async def on_unknown_command(update: Update, context: Context) -> None:
    command = (update.effective_message.text or "").split(maxsplit=1)[0]
    await send_reply(context, update.effective_chat.id, Reply([replies.unknown_command(command, HTML)]))


# ---------------------------------------------------------------------- daily excerpts


async def on_daily(update: Update, context: Context) -> None:
    core = core_of(context)
    chat, user = update.effective_chat, update.effective_user
    reply_to = _quote_in_groups(update)
    if chat.type != ChatType.PRIVATE and not await _may_manage_group(context, chat.id, user.id if user else None):
        await send_reply(context, chat.id, Reply([replies.daily_group_admin_only()]), reply_to)
        return
    change = core.daily(chat.id, command_argument(update.effective_message), HTML)
    if change.changed:
        schedule_daily(context.application, chat.id, change.subscription)
    await send_reply(context, chat.id, Reply([change.text]), reply_to)


async def _may_manage_group(context: Context, chat_id: int, user_id: int | None) -> bool:
    """Group subscriptions are the group admins' call (or a bot admin's): nobody else may make the bot post daily."""
    if user_id is None:
        return False
    if core_of(context).is_admin(user_id):
        return True
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        log.warning("could not check group admin status of %s in %s", user_id, chat_id)
        return False
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


def schedule_daily(app: Application, chat_id: int, sub: Subscription | None, catch_up: bool = False) -> None:
    """One job per chat, named after the chat id; any earlier job of that chat is replaced."""
    queue = app.job_queue
    for job in queue.get_jobs_by_name(str(chat_id)):
        job.schedule_removal()
    if sub is None or not sub.enabled:
        return
    interval = app.bot_data.get(EXCERPT_INTERVAL)
    if interval:
        queue.run_repeating(
            daily_job,
            interval=interval,
            first=interval,
            name=str(chat_id),
            chat_id=chat_id,
            data=ExcerptJob(daily=False),
        )
        return
    queue.run_daily(daily_job, time=time_of_day(sub), name=str(chat_id), chat_id=chat_id, data=ExcerptJob(daily=True))
    if catch_up and missed_today(sub):
        queue.run_once(daily_job, when=CATCH_UP_DELAY, name=str(chat_id), chat_id=chat_id, data=ExcerptJob(daily=True))


def restore_daily(app: Application) -> int:
    subs = core_of(app).store.subscriptions()
    for sub in subs:
        schedule_daily(app, sub.chat_id, sub, catch_up=True)
    return len(subs)


async def daily_job(context: Context) -> None:
    job = context.job
    outcome = await deliver_daily(context.bot, core_of(context), job.chat_id, daily=job.data.daily)
    if outcome == UNSUBSCRIBED:
        for other in context.job_queue.get_jobs_by_name(str(job.chat_id)):
            other.schedule_removal()


async def deliver_daily(bot, core: Core, chat_id: int, *, daily: bool, now: dt.datetime | None = None) -> str:
    """Send this chat its next excerpt. 429: wait as told and retry; 403 (blocked, kicked): unsubscribe.

    In daily mode a chat gets at most one excerpt per local day, so a catch-up after a restart and the
    regular job never both deliver. A claimed passage that was not delivered is given back.
    """
    sub = core.store.subscription(chat_id)
    if sub is None or not sub.enabled:
        return SKIPPED
    day = local_day(sub.timezone, now) if daily else None
    if daily and sub.last_day == day:
        return SKIPPED
    passage = await asyncio.to_thread(core.claim_excerpt, chat_id)
    if passage is None:
        return EMPTY
    text = replies.excerpt(passage, HTML, daily=True)
    for _ in range(SEND_ATTEMPTS):
        try:
            await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
        except RetryAfter as exc:
            wait = retry_seconds(exc)
            log.info("daily excerpt to %s rate-limited; retrying in %.1f s", chat_id, wait)
            await asyncio.sleep(wait)
            continue
        except Forbidden as exc:
            return _unsubscribe(core, chat_id, passage.passage_id, exc)
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                return _unsubscribe(core, chat_id, passage.passage_id, exc)
            core.store.release_excerpt(chat_id, passage.passage_id)
            raise
        except BaseException:
            core.store.release_excerpt(chat_id, passage.passage_id)
            raise
        if day is not None:
            core.store.mark_day(chat_id, day)
        return SENT
    core.store.release_excerpt(chat_id, passage.passage_id)
    log.warning("daily excerpt to %s gave up after %d rate-limited attempts", chat_id, SEND_ATTEMPTS)
    return FAILED


def _unsubscribe(core: Core, chat_id: int, passage_id: str, exc: TelegramError) -> str:
    log.warning("chat %s unreachable (%s); daily excerpts stopped", chat_id, exc)
    core.store.release_excerpt(chat_id, passage_id)
    core.store.unsubscribe(chat_id)
    return UNSUBSCRIBED


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB_TIMEDELTA (and warns as an int)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


# ---------------------------------------------------------------------- admin


async def on_reindex(update: Update, context: Context) -> None:
    core = core_of(context)
    user, chat = update.effective_user, update.effective_chat
    if not core.is_admin(user.id if user else None):
        log.warning("refused /reindex from user %s (@%s) in chat %s", user and user.id, user and user.username, chat.id)
        await send_reply(context, chat.id, Reply([replies.admin_only("更新索引")]), _quote_in_groups(update))
        return
    await launch_reindex(context, chat.id)


async def launch_reindex(context: Context, chat_id: int, busy_text: str | None = None) -> bool:
    """Start the build in the background (the handler returns at once); a second one is told to wait."""
    core = core_of(context)
    if not core.try_begin_reindex():
        await context.bot.send_message(chat_id, busy_text or replies.reindex_busy())
        return False
    try:
        status = await context.bot.send_message(chat_id, replies.reindex_started())
    except BaseException:
        core.end_reindex()
        raise
    context.application.create_task(_reindex(core, status), name=f"reindex-{chat_id}")
    return True


async def _reindex(core: Core, status: Message) -> None:
    progress = {"done": 0, "total": 0}

    def on_progress(done: int, total: int) -> None:  # called from the build thread
        progress.update(done=done, total=total)

    watcher = asyncio.create_task(_show_progress(status, progress))
    try:
        report = await asyncio.to_thread(core.rebuild, on_progress)
        text = core.reindex_text(report, HTML)
        log.info("reindex done: +%d −%d passages in %.1f s", report.added, report.removed, report.seconds)
    except Exception as exc:
        log.exception("reindex failed")
        text = replies.reindex_failed(exc, HTML)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        core.end_reindex()
    await _edit(status, text)


async def _show_progress(status: Message, progress: dict) -> None:
    """Edit one message at most every PROGRESS_EVERY seconds (Telegram frowns on edit storms)."""
    shown = status.text
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        if progress["total"]:
            text = replies.reindex_progress(progress["done"], progress["total"])
            if text != shown:
                await _edit(status, text)
                shown = text


async def _edit(message: Message, text: str) -> None:
    try:
        await message.edit_text(text)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.warning("could not edit progress message: %s", exc)
    except TelegramError as exc:
        log.warning("could not edit progress message: %s", exc)


async def on_document(update: Update, context: Context) -> None:
    """Admins add articles by sending a file: parsed strictly first, saved under a safe name, then indexed."""
    core = core_of(context)
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    document = message.document
    if not core.is_admin(user.id if user else None):
        log.warning(
            "refused upload %r from user %s (@%s)", document.file_name, user and user.id, user and user.username
        )
        await message.reply_text(replies.admin_only("上传资料"))
        return
    problem = core.check_upload(document.file_name or "", document.file_size, HTML)
    if problem:
        await message.reply_text(problem)
        return
    async with typing(context, chat.id):
        with tempfile.TemporaryDirectory(prefix="partybot-upload-") as folder:
            path = Path(folder) / safe_filename(document.file_name or "upload")
            await (await document.get_file()).download_to_drive(path)
            outcome = await asyncio.to_thread(core.accept_upload, path, document.file_name or path.name, HTML)
    await message.reply_text(outcome.text)
    if outcome.saved is not None:
        await launch_reindex(context, chat.id, busy_text=replies.upload_saved_busy())


# ---------------------------------------------------------------------- errors


async def on_error(update: object, context: Context) -> None:
    """Log the traceback; tell the user something went wrong instead of leaving them waiting."""
    log.error("error while handling %s", type(update).__name__ if update else "a job", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(update.effective_chat.id, replies.ERROR)
