"""The Telegram channel: PTB wiring, the handlers that need more than the Core, and the daily-excerpt jobs.

`build_application(settings, searcher)` is the one place the Application is assembled (API base URLs,
rate limiter, handlers, post_init); `run_bot(settings)` loads the searcher once and polls or serves a
webhook. Commands are registered from `bot.chat.commands`: one that only shows a Core reply needs no code
here; `HANDLERS` holds the rest. Every text comes from `bot.chat.replies`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputPollOption,
    InputTextMessageContent,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode, PollType
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    JobQueue,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from bot.chat import commands, delivery, metrics, redaction, replies, webhook
from bot.chat.commands import Access, Channel, Command, Request, Run
from bot.chat.core import Core, Reply, parse_button
from bot.chat.daily import local_day, missed_today, time_of_day
from bot.chat.delivery import Outcome, RateLimited, Rejected, Send, Transient, Unreachable
from bot.chat.replies import HTML
from bot.chat.store import Store, StoreError, Subscription
from bot.chat.telegram_admin import on_document, on_reindex, resume_reindex
from bot.chat.telegram_io import (
    CORE,
    Context,
    Turn,
    TurnHandler,
    core_of,
    on_turn,
    quote_in_groups,
    send_reply,
    typing,
)
from bot.retrieval.search import Searcher
from bot.settings import Settings

log = logging.getLogger(__name__)

EXCERPT_INTERVAL = "excerpt_interval"
WEEKLY_GAPS = "weekly_gaps"
INLINE_CACHE_SECONDS = 300  # Telegram's servers answer a repeated inline query themselves for this long
INLINE_START = "inline"  # the /start parameter of the button shown when there is nothing to share
CATCH_UP_DELAY = 5.0  # seconds after start-up before a missed daily excerpt is sent


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
    app: Application = (
        builder.rate_limiter(AIORateLimiter(max_retries=2)).build() if telegram_limits else builder.build()
    )
    app.bot_data[CORE] = Core(settings, searcher, Store(settings.store_target))
    app.bot_data[EXCERPT_INTERVAL] = excerpt_interval
    add_handlers(app)
    return app


def add_handlers(app: Application) -> None:
    new = filters.UpdateType.MESSAGE  # edited messages are not new questions
    for command in commands.in_channel(Channel.TELEGRAM):
        names = [command.name, *command.aliases]
        app.add_handler(CommandHandler(names, on_turn(handler_for(command)), filters=new))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(PollAnswerHandler(on_poll_answer))
    app.add_handler(InlineQueryHandler(on_inline_query))
    private, groups = new & filters.ChatType.PRIVATE, new & filters.ChatType.GROUPS
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_turn(on_private_text)))
    app.add_handler(MessageHandler(groups & filters.TEXT & ~filters.COMMAND, on_turn(on_group_text)))
    app.add_handler(MessageHandler(private & filters.Document.ALL, on_turn(on_document)))
    app.add_handler(MessageHandler(private & filters.COMMAND, on_turn(on_unknown_command)))
    app.add_error_handler(on_error)


async def _post_init(app: Application) -> None:
    await app.bot.set_my_commands([BotCommand(name, text) for name, text in commands.menu()])
    restored = await restore_daily(app)
    schedule_weekly_gaps(app)
    await resume_reindex(app)
    poll = core_of(app).settings.index_poll_seconds
    if poll > 0:
        job_queue(app).run_repeating(follow_index, interval=poll, first=poll, name="follow-index")
    log.info("bot @%s ready; %d daily subscriptions restored", app.bot.username, restored)


async def follow_index(context: Context) -> None:
    """Replicas share one index folder; the one that built a new index published it in the store."""
    core = core_of(context)
    try:
        if await asyncio.to_thread(core.follow_published_index):
            log.info("now serving the published index %s", core.searcher.index.path.name)
    except StoreError:
        log.exception("could not read the published index version")


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

    redactor = redaction.install(settings.telegram_bot_token, webhook_options(settings)["secret_token"])
    logging.getLogger("bot").setLevel(logging.INFO)
    try:
        searcher = open_searcher(settings)
    except IndexMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    app = build_application(settings, searcher)
    try:
        if settings.webhook_url:
            log.info("webhook mode: %s", redactor.redact(settings.webhook_url))
            asyncio.run(webhook.serve(app, webhook_options(settings)))
        else:
            log.info("polling mode")
            app.run_polling(allowed_updates=Update.ALL_TYPES)
    except (InvalidToken, EndPointNotFound) as exc:
        print(replies.token_rejected(redactor.redact(str(exc)), settings.telegram_api_base_url), file=sys.stderr)
        return 1
    except NetworkError as exc:  # at start-up only: once running, PTB retries network errors itself
        print(replies.api_unreachable(redactor.redact(str(exc)), settings.telegram_api_base_url), file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------- commands


def handler_for(command: Command) -> TurnHandler:
    """The command's entry in HANDLERS, or else the generic one that shows its Core reply; behind its access."""
    own = HANDLERS.get(command.name)
    if own is not None:
        handler = own
    elif command.run is not None:
        handler = _show(command.run)
    else:
        raise LookupError(f"/{command.name} is a Telegram command but has no Telegram handler")

    async def guarded(turn: Turn, context: Context) -> None:
        if await may_use(command, turn, context):
            await handler(turn, context)
            return
        user = turn.user
        log.warning(
            "refused /%s from user %s (@%s) in chat %s",
            command.name,
            user and user.id,
            user and user.username,
            turn.chat.id,
        )
        await send_reply(context, turn.chat.id, Reply([command.refusal()]), turn.reply_to)

    return guarded


def _show(run: Run) -> TurnHandler:
    async def show(turn: Turn, context: Context) -> None:
        request = Request(Channel.TELEGRAM, turn.chat.id, turn.argument, turn.user_id)
        reply = await asyncio.to_thread(run, core_of(context), request)
        await send_reply(context, turn.chat.id, reply, turn.reply_to)

    return show


async def may_use(command: Command, turn: Turn, context: Context) -> bool:
    if command.access is Access.BOT_ADMINS:
        return core_of(context).is_admin(turn.user_id)
    if command.access is Access.GROUP_ADMINS and turn.chat.type != ChatType.PRIVATE:
        return await _may_manage_group(context, turn.chat.id, turn.user_id)
    return True


async def _may_manage_group(context: Context, chat_id: int, user_id: int | None) -> bool:
    """What the bot does in a group on its own (daily posts) is the group admins' call, or a bot admin's."""
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


async def on_unknown_command(turn: Turn, context: Context) -> None:
    command = (turn.message.text or "").split(maxsplit=1)[0]
    await send_reply(context, turn.chat.id, Reply([replies.unknown_command(command, HTML)]))


# ---------------------------------------------------------------------- questions


async def answer_question(turn: Turn, context: Context, question: str) -> None:
    core = core_of(context)
    chat_id = turn.chat.id
    key = turn.user_id if turn.user_id is not None else chat_id
    wait = await asyncio.to_thread(core.limiter.hit, key)
    if wait > 0:
        if await asyncio.to_thread(core.limiter.first_refusal, key, wait):
            text = replies.rate_limited(wait, core.settings.questions_per_minute)
            await send_reply(context, chat_id, Reply([text], ok=False), turn.reply_to)
        return
    async with typing(context, chat_id):
        with metrics.LATENCY.time():
            reply = await asyncio.to_thread(core.ask, question, HTML, chat_id, turn.user_id)
    metrics.QUESTIONS.inc()
    if not reply.ok:
        metrics.REFUSALS.inc()
    await send_reply(context, chat_id, reply, turn.reply_to)
    if reply.gap:
        await asyncio.to_thread(core.record_refusal, chat_id, question, reply.gap)


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


async def on_private_text(turn: Turn, context: Context) -> None:
    await answer_question(turn, context, turn.message.text or "")


async def on_group_text(turn: Turn, context: Context) -> None:
    question = addressed_question(turn.message, context.bot.id, context.bot.username or "")
    if question is not None:
        await answer_question(turn, context, question)


async def on_ask(turn: Turn, context: Context) -> None:
    question = turn.argument
    if not question:
        await send_reply(context, turn.chat.id, Reply([replies.ask_usage()]), turn.reply_to)
        return
    await answer_question(turn, context, question)


async def on_button(update: Update, context: Context) -> None:
    """更多结果 / 阅读全文: the hit list comes from the store, so buttons keep working after a restart."""
    query, chat = update.callback_query, update.effective_chat
    if query is None:
        return
    parsed = parse_button(query.data or "")
    if parsed is None or chat is None:
        await query.answer(replies.expired(), show_alert=True)
        return
    core = core_of(context)
    action, query_id, rank = parsed
    if action in ("up", "down"):
        user = update.effective_user
        if user is None:
            await query.answer(replies.expired(), show_alert=True)
            return
        await query.answer(await asyncio.to_thread(core.vote, query_id, user.id, action == "up"))
        return
    if action == "more":
        reply = await asyncio.to_thread(core.more, query_id, HTML)
    else:
        reply = await asyncio.to_thread(core.full, query_id, rank, HTML)
    if not reply.ok:
        await query.answer(reply.texts[0], show_alert=True)
        return
    await query.answer()
    await send_reply(context, chat.id, reply, quote_in_groups(chat, update.effective_message))


async def on_inline_query(update: Update, context: Context) -> None:
    """`@机器人 问题` in any chat: a few answers, each with its citation, to post there. Limited per
    member like questions; a refusal is a button above the empty list, never a result to share."""
    query = update.inline_query
    if query is None:
        return
    core = core_of(context)
    question = query.query.strip()
    if not question:
        await query.answer([], cache_time=INLINE_CACHE_SECONDS, button=_inline_button(replies.inline_hint()))
        return
    wait = core.inline_limiter.hit(query.from_user.id)
    if wait > 0:
        limited = _inline_button(replies.inline_rate_limited(wait))
        await query.answer([], cache_time=0, is_personal=True, button=limited)
        return
    shared = await asyncio.to_thread(core.inline, question, HTML)
    results = [
        InlineQueryResultArticle(
            id=hashlib.sha256(f"{question}|{s.passage.passage_id}".encode()).hexdigest()[:32],
            title=replies.inline_title(s.passage),
            description=replies.inline_description(s.sentence),
            input_message_content=InputTextMessageContent(s.text, parse_mode=ParseMode.HTML),
        )
        for s in shared
    ]
    nothing = None if results else _inline_button(replies.inline_nothing())
    await query.answer(results, cache_time=INLINE_CACHE_SECONDS, button=nothing)


def _inline_button(text: str) -> InlineQueryResultsButton:
    return InlineQueryResultsButton(text=text, start_parameter=INLINE_START)


# ---------------------------------------------------------------------- daily excerpts


async def on_daily(turn: Turn, context: Context) -> None:
    change = await asyncio.to_thread(core_of(context).daily, turn.chat.id, turn.argument, HTML)
    if change.changed:
        schedule_daily(context.application, turn.chat.id, change.subscription)
    await send_reply(context, turn.chat.id, Reply([change.text]), turn.reply_to)


def job_queue(app: Application) -> JobQueue:
    queue = app.job_queue
    if queue is None:
        raise RuntimeError("daily excerpts need python-telegram-bot[job-queue]")
    return queue


def schedule_daily(app: Application, chat_id: int, sub: Subscription | None, catch_up: bool = False) -> None:
    """One job per chat, named after the chat id; any earlier job of that chat is replaced."""
    queue = job_queue(app)
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


async def restore_daily(app: Application) -> int:
    """Per-chat jobs for the subscriptions in the store, and the sweep: it sends what is due and nobody sent,
    whichever process took the subscription or died mid-delivery (the holds keep it to one sender)."""
    subs = await asyncio.to_thread(core_of(app).store.subscriptions)
    for sub in subs:
        schedule_daily(app, sub.chat_id, sub, catch_up=True)
    sweep = core_of(app).settings.daily_sweep_seconds
    if sweep > 0 and not app.bot_data.get(EXCERPT_INTERVAL):
        job_queue(app).run_repeating(sweep_daily, interval=sweep, first=sweep, name="daily-sweep")
    return len(subs)


async def daily_job(context: Context) -> None:
    job = context.job
    if job is None or job.chat_id is None or not isinstance(job.data, ExcerptJob):
        return
    await _deliver_job(context, job.chat_id, job.data.daily)


async def sweep_daily(context: Context) -> None:
    """One chat at a time: a kill -9 then leaves at most one excerpt in the at-most-once window."""
    subs = await asyncio.to_thread(core_of(context).store.subscriptions)
    for sub in subs:
        if missed_today(sub):
            await _deliver_job(context, sub.chat_id, True)


async def _deliver_job(context: Context, chat_id: int, daily: bool) -> None:
    outcome = await deliver_daily(context.bot, core_of(context), chat_id, daily=daily)
    if outcome is Outcome.SENT:
        await send_quiz(context.bot, core_of(context), chat_id)
    if outcome is Outcome.UNSUBSCRIBED:
        for other in job_queue(context.application).get_jobs_by_name(str(chat_id)):
            other.schedule_removal()


async def deliver_daily(bot: Bot, core: Core, chat_id: int, *, daily: bool, now: dt.datetime | None = None) -> Outcome:
    """The channel-neutral policy of `bot.chat.delivery`, sending through this bot; the bot admins hear
    about excerpts Telegram refused."""
    outcome = await delivery.deliver_daily(
        sender(bot), core, chat_id, HTML, daily=daily, now=now, admins=core.settings.admin_ids
    )
    if outcome is Outcome.FAILED:
        metrics.DELIVERY_FAILURES.inc()
    return outcome


def sender(bot: Bot) -> Send:
    """PTB's errors in the policy's terms: 429 waits as told; blocked, kicked or a vanished chat unsubscribes;
    any other 400 refuses this message for good; 5xx, timeouts and connection errors are worth a retry.
    Anything else (a moved group, a revoked token) propagates to the error handler."""

    async def send(chat_id: int, text: str) -> None:
        try:
            await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
        except RetryAfter as exc:
            raise RateLimited(retry_seconds(exc)) from exc
        except Forbidden as exc:
            raise Unreachable(str(exc)) from exc
        except BadRequest as exc:  # before NetworkError: PTB derives BadRequest from it
            if "chat not found" in str(exc).lower():
                raise Unreachable(str(exc)) from exc
            raise Rejected(str(exc)) from exc
        except NetworkError as exc:  # TimedOut, 5xx (PTB raises NetworkError for them), connection trouble
            raise Transient(str(exc)) from exc

    return send


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB_TIMEDELTA (and warns as an int)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


# ---------------------------------------------------------------------- daily quiz and gaps


async def send_quiz(bot: Bot, core: Core, chat_id: int) -> None:
    """After the daily excerpt, for a chat that turned quizzes on: a non-anonymous quiz poll, so answers
    arrive as poll_answer updates. Plain text throughout (no HTML parse mode: the limits count characters).
    A quiz that fails to go out costs nothing but itself; the excerpt was delivered."""
    try:
        quiz = await asyncio.to_thread(core.daily_quiz, chat_id)
        if quiz is None:
            return
        message = await bot.send_poll(
            chat_id,
            quiz.question,
            [InputPollOption(option, text_parse_mode=None) for option in quiz.options],
            is_anonymous=False,
            type=PollType.QUIZ,
            correct_option_ids=cast("list[Any]", [quiz.correct]),  # PTB types it as a Literal of 0…11
            explanation=quiz.explanation,
            question_parse_mode=None,
            explanation_parse_mode=None,
        )
        if message.poll is not None:
            await asyncio.to_thread(
                core.store.save_quiz_poll, message.poll.id, chat_id, message.message_id, quiz.passage_id, quiz.correct
            )
    except (TelegramError, StoreError):
        log.exception("daily quiz to chat %s not sent or not recorded", chat_id)


async def on_poll_answer(update: Update, context: Context) -> None:
    answer = update.poll_answer
    if answer is None or answer.user is None:
        return
    user = answer.user
    await asyncio.to_thread(
        core_of(context).store.record_quiz_answer, answer.poll_id, user.id, user.full_name, list(answer.option_ids)
    )


async def on_gaps(turn: Turn, context: Context) -> None:
    """The grouped text, then the questions as a .jsonl file in the eval format; only in private, for the
    questions are other members'."""
    if turn.chat.type != ChatType.PRIVATE:
        await send_reply(context, turn.chat.id, Reply([replies.gaps_private_only()]), turn.reply_to)
        return
    report = await asyncio.to_thread(core_of(context).gaps, turn.argument, HTML)
    await send_reply(context, turn.chat.id, report.reply, turn.reply_to)
    if report.jsonl:
        await context.bot.send_document(
            turn.chat.id,
            report.jsonl.encode(),
            filename=report.filename,
            caption=replies.gaps_file_caption(report.count),
            parse_mode=None,
        )


def schedule_weekly_gaps(app: Application) -> None:
    """Mondays at the default daily time: the bot admins get last week's gaps, if there were any."""
    core = core_of(app)
    if not core.settings.admin_ids:
        return
    at = time_of_day(Subscription(0, core.default_time, core.settings.timezone, True, None))
    job_queue(app).run_daily(weekly_gaps_job, time=at, days=(0,), name=WEEKLY_GAPS)


async def weekly_gaps_job(context: Context) -> None:
    await send_weekly_gaps(context.bot, core_of(context))


async def send_weekly_gaps(bot: Bot, core: Core, week: str | None = None) -> int:
    """The /gaps text of the last 7 days to each bot admin who can be reached, once per week however many
    replicas run the job; how many admins got it."""
    week = week or local_day(core.settings.timezone)
    report = await asyncio.to_thread(core.gaps, "", HTML)
    if not report.count or not await asyncio.to_thread(core.store.claim_digest, WEEKLY_GAPS, week):
        return 0
    sent = 0
    for admin in core.settings.admin_ids:
        try:
            await bot.send_message(admin, replies.gaps_weekly_head(report.reply.texts[0]), parse_mode=ParseMode.HTML)
            for text in report.reply.texts[1:]:
                await bot.send_message(admin, text, parse_mode=ParseMode.HTML)
            sent += 1
        except TelegramError as exc:  # an admin who never wrote to the bot cannot be written to
            log.warning("weekly gaps summary not delivered to admin %s: %s", admin, exc)
    return sent


HANDLERS: dict[str, TurnHandler] = {"ask": on_ask, "daily": on_daily, "reindex": on_reindex, "gaps": on_gaps}


# ---------------------------------------------------------------------- errors


async def on_error(update: object, context: Context) -> None:
    """Log the traceback; tell the user something went wrong instead of leaving them waiting."""
    log.error("error while handling %s", type(update).__name__ if update else "a job", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(update.effective_chat.id, replies.ERROR)
