"""What each command does, independent of the channel: the console and the Telegram bot both call `Core`.

Methods are synchronous and thread-safe; the Telegram side runs the CPU-bound ones (answer, rebuild,
upload parsing) with `asyncio.to_thread`. A `Reply` is finished text in the caller's `Style` plus
channel-neutral buttons, so neither channel formats or decides anything itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from bot.chat import daily, replies
from bot.chat.followup import Conversations, Key
from bot.chat.gaps import Gap, Why, to_jsonl, topics
from bot.chat.replies import Style
from bot.chat.store import Store, StoreError, Subscription
from bot.ingest import SUPPORTED_SUFFIXES, IngestError
from bot.ingest.corpus_files import safe_filename, same_content, save_new
from bot.ingest.sandbox import Limits, load_file_limited
from bot.retrieval import rewrite
from bot.retrieval.answer import Answer, answer, hit_sentences
from bot.retrieval.indexer import BuildCancelled, BuildReport, is_stale
from bot.retrieval.passages import Passage
from bot.retrieval.quiz import Bank, Quiz, make_quiz
from bot.retrieval.search import Searcher, SearchIndex
from bot.settings import Settings

log = logging.getLogger(__name__)

TOP_K = 5
MORE_BUTTONS = 5  # buttons for other places' articles under one answer
REINDEX_HOLD = "reindex"  # the store hold one index build runs under, across replicas
OFF_WORDS = {"off", "stop", "no", "关闭", "取消", "退订", "停止"}
ON_WORDS = {"on", "start", "yes", "开启", "打开", "开"}
GAP_REASONS = {
    "no_match",
    "absent_place",
    "place_unanswered",
    "absent_name",
}  # refusals that say the corpus lacks something (not a bad question)
GAPS_DAYS, MAX_GAPS_DAYS = 7, 90


@dataclass(frozen=True)
class Button:
    """An inline button as data: Telegram turns it into callback data (≤ 64 bytes), the console into a command."""

    label: str
    action: str  # "more" | "full" | "up" | "down" (a vote on the answer)
    query_id: str
    rank: int = 1  # which hit (1 = the answer's own passage) "full" opens

    @property
    def data(self) -> str:
        return f"{self.action}:{self.query_id}:{self.rank}"

    @property
    def vote(self) -> bool:
        return self.action in ("up", "down")


def parse_button(data: str) -> tuple[str, str, int] | None:
    match = re.fullmatch(r"(more|full|up|down):([\w-]{1,40}):(\d{1,3})", data or "")
    return (match[1], match[2], int(match[3])) if match else None


@dataclass
class Reply:
    texts: list[str]
    buttons: list[Button] = field(default_factory=list)
    ok: bool = True  # False: a refusal or an expired button — nothing to expand
    gap: str = ""  # why the corpus could not answer, for the channel to `record_refusal` once it has replied

    @property
    def query_id(self) -> str | None:
        return self.buttons[0].query_id if self.buttons else None


@dataclass(frozen=True)
class Shared:
    """One inline-mode result: the passage it quotes, its answering sentence, and the message to post."""

    passage: Passage
    sentence: str
    text: str


@dataclass
class DailyChange:
    text: str
    subscription: Subscription | None  # the subscription to (re)schedule; None: no job for this chat
    changed: bool


@dataclass
class GapsReport:
    reply: Reply
    jsonl: str  # the questions in the eval format; "" when there are none
    filename: str
    count: int


@dataclass
class UploadOutcome:
    text: str
    saved: Path | None = None  # set when a new file went into the corpus and needs indexing


class SlidingWindow:
    """At most `limit` events per `window` seconds per key, counted over the last window (not per clock minute)."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._events: dict[int, deque[float]] = {}
        self._told: dict[int, float] = {}
        self._lock = threading.Lock()

    def hit(self, key: int) -> float:
        """0.0 and counted when allowed; otherwise the seconds until the oldest event leaves the window."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return events[0] + self.window - now
            events.append(now)
            return 0.0

    def first_refusal(self, key: int, wait: float) -> bool:
        """True once per refusal period: a flood gets one notice, then silence, so it cannot spend the
        bot's sending budget that every other chat shares."""
        now = self.clock()
        with self._lock:
            if self._told.get(key, 0.0) > now:
                return False
            self._told[key] = now + wait
            return True


class SharedWindow:
    """SlidingWindow's rule kept in the store, so replicas count one user's questions together; a store
    that cannot be reached lets the question through rather than refuse everyone."""

    def __init__(self, store: Store, limit: int, window: float = 60.0) -> None:
        self.store, self.limit, self.window = store, limit, window

    def hit(self, key: int) -> float:
        if self.limit <= 0:
            return 0.0
        try:
            return self.store.rate_hit(key, self.limit, self.window)
        except StoreError:
            log.exception("the shared question window could not be read; letting the question through")
            return 0.0

    def first_refusal(self, key: int, wait: float) -> bool:
        try:
            return self.store.rate_notice(key, wait)
        except StoreError:
            return False


@dataclass
class CorpusView:
    """Lookups over one SearchIndex, built once per index (a hot swap brings a new view)."""

    by_id: dict[str, Passage]
    by_article: dict[str, list[Passage]]
    rotation: list[Passage]
    stats: replies.CorpusStats

    @classmethod
    def of(cls, index: SearchIndex) -> CorpusView:
        by_article: dict[str, list[Passage]] = {}
        for passage in index.passages:
            by_article.setdefault(passage.article_id, []).append(passage)
        for passages in by_article.values():
            passages.sort(key=lambda p: p.position)
        firsts = [ps[0] for ps in by_article.values()]
        articles = [p for p in firsts if p.kind != "caption"]
        manifest = index.manifest or {}
        stats = replies.CorpusStats(
            articles=len(articles),
            captions=len(firsts) - len(articles),
            passages=len(index.passages),
            files=len(manifest.get("corpus") or {p.source for p in firsts}),
            places=Counter(p.county or p.place for p in articles if p.county or p.place).most_common(),
            newest_date=max((p.date for p in firsts if p.date), default=""),
            built_at=str(manifest.get("built_at", "")),
        )
        return cls({p.passage_id: p for p in index.passages}, by_article, daily.rotation(index.passages), stats)

    @cached_property
    def quiz_bank(self) -> Bank:
        return Bank.of(list(self.by_id.values()))


class Core:
    def __init__(self, settings: Settings, searcher: Searcher, store: Store) -> None:
        self.settings, self.searcher, self.store = settings, searcher, store
        limit = settings.questions_per_minute
        self.limiter = SharedWindow(store, limit) if settings.database_url else SlidingWindow(limit)
        self.inline_limiter = SlidingWindow(limit)
        self.conversations = Conversations(settings.followup_minutes * 60)
        self._reindex = threading.Lock()
        self._cancel = threading.Event()
        self._view_lock = threading.Lock()
        self._view: tuple[SearchIndex, CorpusView] | None = None
        self._followed: str | None = None

    def view(self) -> CorpusView:
        index = self.searcher.index
        with self._view_lock:
            if self._view is None or self._view[0] is not index:
                self._view = (index, CorpusView.of(index))
            return self._view[1]

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.admin_ids

    # ------------------------------------------------------------------ questions
    def ask(self, question: str, style: Style, chat_id: int | None = None, user_id: int | None = None) -> Reply:
        """A question, or a follow-up to the asker's last one in this chat (see bot.retrieval.rewrite)."""
        key: Key | None = (chat_id, user_id) if chat_id is not None else None
        thread = self.conversations.get(key) if key is not None else None
        step = rewrite.respond(question, thread, self.searcher, TOP_K, self.settings.max_question_chars)
        result = step.answer
        if result.reason == "no_thread":
            return Reply([replies.nothing_to_continue(self.settings.followup_minutes, style)], ok=False)
        if result.reason in rewrite.CONTINUATION_REFUSALS:
            return Reply([replies.continuation_refused(result.reason, step.understood, step.items, style)], ok=False)
        if key is not None and step.thread is not None:
            self.conversations.put(key, step.thread)
        return self._reply(result, style, chat_id, step.understood)

    def forget(self, chat_id: int, user_id: int | None) -> Reply:
        """/new: the next message is a new question whatever it looks like."""
        return Reply([replies.forgotten(self.conversations.forget((chat_id, user_id)))])

    def _reply(self, result: Answer, style: Style, chat_id: int | None, understood: str) -> Reply:
        prefix = replies.understood(understood, style) if understood else ""
        if result.abstained or result.passage is None:
            gap = result.reason if result.reason in GAP_REASONS else ""
            text = prefix + replies.refusal(result, style, self.settings.max_question_chars)
            return Reply([text], ok=False, gap=gap)
        text = prefix + replies.answer_text(result, style)
        hits = [(h.passage.passage_id, h.passage.article_id) for h in result.hits]
        try:
            query_id = self.store.save_query(chat_id, result.question, hits)
        except StoreError:  # a full disk costs the buttons, never the answer
            log.exception("could not store the hits behind an answer; replying without buttons")
            return Reply([text])
        buttons = [Button(replies.BUTTON_MORE, "more", query_id)] if len(hits) > 1 and not result.listing else []
        buttons.append(Button(replies.BUTTON_FULL, "full", query_id, 1))
        buttons += [
            Button(replies.place_label(s.passage), "full", query_id, s.rank) for s in result.also[:MORE_BUTTONS]
        ]
        buttons += [Button(replies.BUTTON_UP, "up", query_id), Button(replies.BUTTON_DOWN, "down", query_id)]
        return Reply([text], buttons)

    def record_refusal(self, chat_id: int | None, question: str, reason: str) -> None:
        """For /gaps, after the refusal went out: a locked or full state store delays or costs the record,
        never the reply."""
        try:
            self.store.log_refusal(chat_id, question, reason)
        except StoreError:
            log.exception("could not record a refused question")

    # ------------------------------------------------------------------ feedback and gaps
    def vote(self, query_id: str, user_id: int, up: bool) -> str:
        """👍/👎 under an answer: one vote per user per answer, stored with the question and its hits."""
        try:
            changed = self.store.vote(query_id, user_id, up)
        except StoreError:
            log.exception("could not record a vote on %s", query_id)
            return replies.vote_failed()
        return replies.expired() if changed is None else replies.vote_thanks(up, changed)

    def gaps(self, argument: str, style: Style, now: float | None = None) -> GapsReport:
        """Questions refused or voted down in the last N days, grouped by topic, with their eval-format export."""
        argument = argument.strip()
        days = int(argument) if argument.isdigit() else GAPS_DAYS
        if (argument and not argument.isdigit()) or not 1 <= days <= MAX_GAPS_DAYS:
            return GapsReport(Reply([replies.gaps_usage()], ok=False), "", "", 0)
        now = time.time() if now is None else now
        since = now - days * 86400
        view = self.view()
        found = [Gap(q, at, chat, Why.REFUSED) for chat, q, _, at in self.store.refusals(since)]
        for stored, at in self.store.voted_down(since):
            shown = view.by_id.get(stored.hits[0][0]) if stored.hits else None
            found.append(Gap(stored.question, at, stored.chat_id, Why.VOTED_DOWN, shown.text if shown else ""))
        grouped = topics(found)
        day = daily.local_day(self.settings.timezone, dt.datetime.fromtimestamp(now, dt.UTC))
        return GapsReport(
            Reply(replies.gaps(grouped, days, style)), to_jsonl(grouped, day), f"gaps-{day}.jsonl", len(found)
        )

    # ------------------------------------------------------------------ daily quiz
    def quiz(self, chat_id: int, argument: str) -> Reply:
        """/quiz on|off|(status) for one chat; the quiz itself goes out with the daily excerpt."""
        word = argument.strip().lower()
        sub = self.store.subscription(chat_id)
        subscribed = sub is not None and sub.enabled
        if not word:
            return Reply([replies.quiz_status(self.store.quiz_enabled(chat_id), subscribed)])
        if word not in ON_WORDS | OFF_WORDS:
            return Reply([replies.quiz_usage()], ok=False)
        enabled = word in ON_WORDS
        self.store.set_quiz(chat_id, enabled)
        return Reply([replies.quiz_changed(enabled, subscribed)])

    def daily_quiz(self, chat_id: int) -> Quiz | None:
        """The quiz on the excerpt this chat was just sent, when the chat wants one and it can be made well."""
        if not self.store.quiz_enabled(chat_id):
            return None
        history = self.store.excerpt_history(chat_id)
        view = self.view()
        passage = view.by_id.get(history[-1][1]) if history else None
        if passage is None:
            return None
        made = make_quiz(passage, view.quiz_bank)
        if not isinstance(made, Quiz):
            log.info("no quiz for excerpt %s in chat %s: %s", passage.passage_id, chat_id, made)
            return None
        return made

    def rank(self, chat_id: int, style: Style, now: dt.datetime | None = None) -> Reply:
        """This week's (Monday to now, local time) quizzes of the chat: who answered, how many right."""
        since = daily.week_start(self.settings.timezone, now)
        sent, rows = self.store.quiz_standing(chat_id, since)
        return Reply([replies.rank(sent, rows, self.store.quiz_enabled(chat_id), style)])

    def inline(self, question: str, style: Style) -> list[Shared]:
        """Up to TOP_K answers to share from any chat (inline mode): each hit's passage, its answering
        sentences in bold and its citation; no conversation context, since nobody is talking to the bot."""
        result = answer(question, self.searcher, k=TOP_K, max_chars=self.settings.max_question_chars)
        if result.abstained or result.passage is None:
            return []
        shared = []
        for rank, hit in enumerate(result.hits[:TOP_K]):
            sentences = result.sentences if rank == 0 else hit_sentences(question, hit, self.searcher)
            one = Answer(question, False, "", sentences, [hit])
            shared.append(Shared(hit.passage, (sentences or [hit.passage.text])[0], replies.answer_text(one, style)))
        return shared

    def more(self, query_id: str, style: Style) -> Reply:
        stored = self.store.query(query_id)
        if stored is None:
            return Reply([replies.expired()], ok=False)
        view = self.view()
        ranked = [
            (rank, view.by_id[pid]) for rank, (pid, _) in enumerate(stored.hits[1:TOP_K], start=2) if pid in view.by_id
        ]
        if not ranked:
            return Reply([replies.expired()], ok=False)
        seen = {stored.hits[0][1]}  # the answer's own article already has its 阅读全文 button
        buttons = []
        for rank, passage in ranked:
            if passage.article_id not in seen:
                seen.add(passage.article_id)
                buttons.append(Button(replies.full_label(rank), "full", query_id, rank))
        return Reply(replies.more_results(ranked, style), buttons)

    def full(self, query_id: str, rank: int, style: Style) -> Reply:
        stored = self.store.query(query_id)
        if stored is None or not 1 <= rank <= len(stored.hits):
            return Reply([replies.expired()], ok=False)
        passages = self.view().by_article.get(stored.hits[rank - 1][1])
        if not passages:
            return Reply([replies.expired()], ok=False)
        return Reply(replies.article_parts(passages, style))

    # ------------------------------------------------------------------ excerpts
    def claim_excerpt(self, chat_id: int) -> Passage | None:
        return daily.next_excerpt(self.store, chat_id, self.view().rotation)

    def claim_delivery(self, chat_id: int, day: str | None) -> Passage | None:
        """The daily delivery's excerpt, claimed together with its outbox row (see bot.chat.delivery)."""
        return daily.next_delivery(self.store, chat_id, self.view().rotation, day)

    def today(self, chat_id: int, style: Style) -> Reply:
        """Reading never depends on a write: when the excerpt cannot be recorded (a full disk) it is still
        shown, and the real error goes to the log."""
        try:
            passage = self.claim_excerpt(chat_id)
        except StoreError:
            log.exception("/today in chat %s: the excerpt could not be recorded; shown anyway", chat_id)
            passage = daily.unrecorded_excerpt(self.store, chat_id, self.view().rotation)
        if passage is None:
            return Reply([replies.no_excerpt()], ok=False)
        return Reply([replies.excerpt(passage, style)])

    def daily(self, chat_id: int, argument: str, style: Style, now: dt.datetime | None = None) -> DailyChange:
        """`/daily`, `/daily HH:MM` or `/daily off` for one chat; the caller (re)schedules the job."""
        argument = argument.strip()
        tz = self.settings.timezone
        if argument.lower() in OFF_WORDS:
            was = self.store.unsubscribe(chat_id)
            return DailyChange(replies.daily_unsubscribed(was), None, was)
        current = self.store.subscription(chat_id)
        if not argument and current and current.enabled:
            return DailyChange(replies.daily_status(current.time, current.timezone), current, False)
        at = daily.parse_time(argument) if argument else (current.time if current else self.default_time)
        if at is None:
            return DailyChange(
                replies.daily_bad_time(argument, style), current if current and current.enabled else None, False
            )
        sub = self.store.subscribe(chat_id, at, tz, daily.settled_day(at, tz, now))
        return DailyChange(replies.daily_subscribed(at, tz), sub, True)

    @property
    def default_time(self) -> str:
        return daily.parse_time(self.settings.daily_time) or "08:00"

    # ------------------------------------------------------------------ fixed replies
    def sources(self, style: Style) -> Reply:
        return Reply([replies.sources(self.view().stats, style)])

    def about(self, style: Style) -> Reply:
        stats = self.view().stats
        return Reply([replies.about(style, stats.articles, stats.passages)])

    # ------------------------------------------------------------------ reindex
    def try_begin_reindex(self) -> bool:
        """Only one build at a time, across replicas too (a store hold); the caller must `end_reindex()`."""
        if not self._reindex.acquire(blocking=False):
            return False
        try:
            if self.store.try_hold(REINDEX_HOLD):
                return True
        except StoreError:
            log.exception("could not take the reindex hold")
        self._reindex.release()
        return False

    def end_reindex(self) -> None:
        try:
            self.store.release(REINDEX_HOLD)
        finally:
            self._reindex.release()

    def follow_published_index(self) -> bool:
        """Swap in the build another replica published to the shared index folder; True when it did.
        Each published version is tried once, and never while this process builds (it swaps its own)."""
        version = self.store.index_version()
        if version is None or version in (self._followed, self.searcher.index.path.name) or self.reindexing:
            return False
        self._followed = version
        from bot.engine import reload_index

        return reload_index(self.settings, self.searcher)

    @property
    def reindexing(self) -> bool:
        return self._reindex.locked()

    def rebuild(self, on_progress: Callable[[int, int], None] | None = None) -> BuildReport:
        """Incremental build, then a hot swap; answers keep coming from the old index until the swap.

        `cancel_reindex()` stops it at the next encoded batch (BuildCancelled); the old index keeps serving.
        """
        from bot.engine import rebuild

        self._cancel.clear()

        def progress(done: int, total: int) -> None:
            if self._cancel.is_set():
                raise BuildCancelled
            if on_progress is not None:
                on_progress(done, total)

        report = rebuild(self.settings, self.searcher, progress=False, on_progress=progress)
        try:
            self.store.publish_index(self.searcher.index.path.name)
        except StoreError:
            log.exception("the new index serves here, but other replicas were not told of it")
        return report

    def index_is_stale(self) -> bool:
        """Whether the corpus changed since the served build; a bot without its model compares against the
        model the build used, so it never rebuilds an index keyword-only just because the model is missing."""
        encoder = self.searcher.encoder
        model = encoder.fingerprint if encoder else (self.searcher.index.manifest.get("model") or {}).get("fingerprint")
        return is_stale(self.settings.corpus_dir, self.settings.index_dir, model)

    def cancel_reindex(self) -> bool:
        """True when a build is running and will stop; vectors encoded so far stay cached for the next one."""
        if not self.reindexing:
            return False
        self._cancel.set()
        return True

    def reindex_text(self, report: BuildReport, style: Style) -> str:
        """Counted like /sources (articles without photo captions), from the index now being served."""
        stats = self.view().stats
        return replies.reindex_done(
            stats.articles, stats.passages, report.added, report.removed, report.seconds, report.errors, style
        )

    # ------------------------------------------------------------------ uploads
    def check_upload(self, name: str, size: int | None, style: Style) -> str | None:
        """A refusal before downloading anything, or None when the file may be fetched."""
        if Path(name or "").suffix.lower() not in SUPPORTED_SUFFIXES:
            return replies.upload_unsupported(name or "（无文件名）", SUPPORTED_SUFFIXES, style)
        if size is not None and size > self.settings.max_upload_bytes:
            return replies.upload_too_big(size, self.settings.max_upload_bytes)
        return None

    @property
    def parse_limits(self) -> Limits:
        s = self.settings
        return Limits(s.parse_memory_mb, s.parse_cpu_seconds, s.parse_wall_seconds)

    def accept_upload(self, downloaded: Path, name: str, style: Style) -> UploadOutcome:
        """Parse strictly first; only a file that reads cleanly is copied into the corpus, under a new safe name."""
        data = downloaded.read_bytes()
        if len(data) > self.settings.max_upload_bytes:
            return UploadOutcome(replies.upload_too_big(len(data), self.settings.max_upload_bytes))
        try:
            articles = load_file_limited(downloaded, self.parse_limits, name)
        except IngestError as exc:
            return UploadOutcome(replies.upload_invalid(name, exc.reason, style))
        if len(articles) > self.settings.max_upload_articles:
            return UploadOutcome(replies.upload_too_many(len(articles), self.settings.max_upload_articles))
        corpus = self.settings.corpus_dir
        existing = same_content(corpus, data)
        if existing is not None:
            return UploadOutcome(replies.upload_duplicate(existing, style))
        try:
            saved = save_new(corpus, safe_filename(name), data)
        except OSError as exc:  # a full disk: nothing half-written stays behind (save_new removes its temp file)
            log.error("upload %r could not be saved: %s", name, exc)
            return UploadOutcome(replies.upload_not_saved(exc, style))
        log.info("upload saved as %s (%d articles)", saved, len(articles))
        return UploadOutcome(replies.upload_saved(saved.name, [a.title for a in articles], style), saved)
