"""Every text the bot says, in Simplified Chinese, rendered as Telegram HTML or as terminal plain text.

One renderer per message with a `Style` switch keeps the console and Telegram saying the same things.
In HTML, every piece of corpus or user text passes through `Style.esc`; only this module writes tags.
Messages longer than Telegram's 4096-character limit are split between paragraphs or sentences, never
inside a tag or an entity.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.chat.gaps import Topic, Why
from bot.retrieval.answer import Answer, Source, citation
from bot.retrieval.passages import Passage
from bot.retrieval.sentences import split_sentences

TELEGRAM_LIMIT = 4096
PART_LIMIT = 3900  # room for a "（2/3）" label; measured in UTF-16 units like Telegram
QUESTION_ECHO_CHARS = 60
SNIPPET_CHARS = 220
ERROR = "出错了，请稍后再试。"
TITLE_CHARS = 120
ALSO_CHARS = 80
BESIDE_CHARS = 160  # the answer may sit in it: quoted whole but for the rare run-on sentence
LIST_CHARS = 120
REASON_CHARS = 400
UNDERSTOOD_CHARS = 60
INLINE_TITLE_CHARS = 64
INLINE_DESCRIPTION_CHARS = 120
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Style:
    """HTML for Telegram, plain text for the terminal (answer sentences marked with 【】 there)."""

    html: bool

    def esc(self, text: str) -> str:
        return html.escape(text, quote=False) if self.html else text

    def answer(self, escaped: str) -> str:
        return f"<b>{escaped}</b>" if self.html else f"【{escaped}】"

    def strong(self, escaped: str) -> str:
        return f"<b>{escaped}</b>" if self.html else escaped

    def quiet(self, escaped: str) -> str:
        return f"<i>{escaped}</i>" if self.html else escaped


HTML = Style(html=True)
PLAIN = Style(html=False)

BUTTON_MORE = "更多结果"
BUTTON_FULL = "阅读全文"
EXAMPLE_QUESTION = "3+1帮带制是怎么运作的？"


# ---------------------------------------------------------------------- splitting


def clip(text: str, limit: int) -> str:
    """Corpus fields are bounded at ingest, but an old index or a hostile file may still hold a huge one."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit_plain(html_text: str, limit: int = TELEGRAM_LIMIT) -> str:
    """Last resort for a message over Telegram's limit: its text without markup, cut to fit."""
    plain = html.unescape(_TAG.sub("", html_text))
    while units(plain) > limit:
        plain = plain[: len(plain) - max(1, (units(plain) - limit + 1) // 2) - 1] + "…"
    return plain


def units(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def split_escaped(raw: str, style: Style, limit: int = PART_LIMIT) -> list[str]:
    """Escape `raw` and cut it into pieces of at most `limit`, at sentence ends where possible."""
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(raw) or [raw]:
        escaped = style.esc(sentence)
        if units(escaped) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.extend(_hard_cut(sentence, style, limit))
            continue
        if current and units(current) + units(escaped) > limit:
            pieces.append(current)
            current = ""
        current += escaped
    if current:
        pieces.append(current)
    return pieces


def _hard_cut(raw: str, style: Style, limit: int) -> list[str]:
    pieces, current = [], ""
    for char in raw:
        escaped = style.esc(char)
        if units(current) + units(escaped) > limit:
            pieces.append(current)
            current = ""
        current += escaped
    return [*pieces, current] if current else pieces


def pack(blocks: Iterable[str], limit: int = PART_LIMIT, joiner: str = "\n\n") -> list[str]:
    """Whole formatted blocks (each within `limit`) packed greedily into as few messages as fit."""
    parts: list[str] = []
    current = ""
    for block in blocks:
        if current and units(current) + units(joiner) + units(block) > limit:
            parts.append(current)
            current = ""
        current = f"{current}{joiner}{block}" if current else block
    if current:
        parts.append(current)
    return parts


def number_parts(parts: list[str], style: Style) -> list[str]:
    if len(parts) < 2:
        return parts
    return [f"{part}\n\n{style.quiet(f'（{i}/{len(parts)}）')}" for i, part in enumerate(parts, start=1)]


# ---------------------------------------------------------------------- answers


def source_line(passage: Passage, style: Style) -> str:
    return style.quiet(style.esc("出处：" + clip(citation(passage), 2 * TITLE_CHARS)))


def answer_text(answer: Answer, style: Style) -> str:
    """The top passage with the answering sentences in bold (or 【】) and a citation line."""
    if answer.passage is None:
        return refusal(answer, style)
    body = "".join(
        style.answer(style.esc(text)) if is_answer else style.esc(text) for text, is_answer in answer.segments()
    )
    if answer.listing:
        return place_list(answer, style)
    if units(body) > PART_LIMIT - 1200:  # an oversized passage: the answering sentences alone still fit
        body = split_escaped("".join(answer.sentences), style, PART_LIMIT - 1200)[0]
        body = style.answer(body)
    text = f"{body}\n\n{source_line(answer.passage, style)}"
    if answer.beside:
        text += "\n\n" + style.strong("同一篇报道还写道") + "\n" + style.esc(clip(answer.beside.sentence, BESIDE_CHARS))
    if answer.also:
        lines = [f"· {_where(s.passage, style)}：{style.esc(clip(s.sentence, ALSO_CHARS))}" for s in answer.also]
        text += "\n\n" + style.strong("另见（其他地方的同类做法）") + "\n" + "\n".join(lines)
    return text


def understood(question: str, style: Style) -> str:
    """A follow-up read in the light of the last question says how it was read, so a wrong guess shows."""
    return f"{style.quiet('按“' + style.esc(clip(question, UNDERSTOOD_CHARS)) + '”理解：')}\n"


def nothing_to_continue(minutes: float, style: Style) -> str:
    return (
        f"没有可以接着说的上一个问题（还没有提问，或已超过 {minutes:g} 分钟）。"
        f"请把问题说完整，例如：{style.esc(EXAMPLE_QUESTION)}"
    )


def continuation_refused(reason: str, understood: str, items: int, style: Style) -> str:
    where = style.esc(clip(understood, UNDERSTOOD_CHARS))
    if reason == "no_item":
        return f"没有{where}：上一个回答里只有 {items} 条。可以说“第一条”“还有吗”，或者提一个新问题。"
    return f"这篇文章已经说完了，没有{where}。可以点“阅读全文”，或者提一个新问题。"


def forgotten(had_thread: bool) -> str:
    if had_thread:
        return "好的，换个话题。下一句会当作新问题。"
    return "好的。请直接提问。"


def inline_title(passage: Passage) -> str:
    place = passage.county or passage.place
    return clip(" · ".join(p for p in (place, passage.title) if p), INLINE_TITLE_CHARS)


def inline_description(sentence: str) -> str:
    return clip(" ".join(sentence.split()), INLINE_DESCRIPTION_CHARS)


def inline_nothing() -> str:
    return "资料中没有找到相关内容"


def inline_hint() -> str:
    return "输入问题，把带出处的回答分享到聊天"


def inline_rate_limited(wait_seconds: float) -> str:
    return f"提问太频繁，请 {max(1, round(wait_seconds))} 秒后再试"


def place_list(answer: Answer, style: Style) -> str:
    """哪些地方在搞…: one line per place with its answering sentence and where it was reported."""
    assert answer.passage is not None
    first = Source(1, answer.hits[0], "".join(answer.sentences[:1]) or answer.passage.text)
    rows = [first, *answer.also]
    lines = [style.strong(f"资料库里有 {len(rows)} 个地方的相关报道：")]
    for i, row in enumerate(rows, start=1):
        lines.append(
            f"{i}. {style.strong(_where(row.passage, style))}：{style.esc(clip(row.sentence, LIST_CHARS))}\n"
            f"   {style.quiet(style.esc('出处：' + clip(row.passage.title, 60)))}"
        )
    return "\n".join(lines)


def _where(passage: Passage, style: Style) -> str:
    place = passage.county or passage.place or "地点未注明"
    return style.esc(clip(" · ".join(p for p in (place, passage.date) if p), 40))


def refusal(answer: Answer, style: Style, max_chars: int = 500) -> str:
    """Why there is no answer, plainly; never a random passage dressed up as one."""
    if answer.reason == "empty":
        return f"请直接输入问题，例如：{style.esc(EXAMPLE_QUESTION)}"
    if answer.reason == "too_long":
        return f"问题太长了（{len(answer.question.strip())} 字）。请精简到 {max_chars} 字以内再问。"
    if answer.reason == "no_text":
        return "没有看懂这个问题，请用文字提问。"
    if answer.reason in ("absent_place", "place_unanswered", "absent_name"):
        return not_covered(answer, style)
    echo = " ".join(answer.question.split())
    if len(echo) > QUESTION_ECHO_CHARS:
        echo = echo[:QUESTION_ECHO_CHARS] + "…"
    return (
        f"抱歉，现有文章中没有找到与“{style.esc(echo)}”相关的内容，无法回答。\n"
        f"发送 /sources 可以查看资料库收录了哪些文章。"
    )


def not_covered(answer: Answer, style: Style) -> str:
    """Say first that the named place or practice is not covered, or that its articles do not tell this;
    another place's practice comes only as that."""
    if answer.reason == "absent_name":
        named = "、".join(f"“{style.esc(clip(name, 30))}”" for name in answer.absent)
        text = f"资料库里没有提到{named}的报道，无法回答这个问题。"
        label, unlike, listed = "相近的内容", f"不是{named}", "文章"
    else:
        named = "、".join(style.esc(clip(name, 30)) for name in answer.absent)
        if answer.reason == "absent_place":
            text = f"资料库里没有关于{named}的报道，无法回答这个问题。"
        else:
            text = f"资料库里关于{named}的报道没有讲到这个问题，无法回答。"
        label, unlike, listed = "其他地方的类似做法", f"不是{named}的情况", "地方"
    if answer.hits and answer.sentences:
        other = answer.hits[0].passage
        where = style.esc(clip(" · ".join(p for p in (other.place, other.date) if p), TITLE_CHARS))
        quote = style.esc(clip("".join(answer.sentences), 300))
        text += f"\n\n{style.strong(label)}（{where}，{unlike}）：\n{quote}\n{source_line(other, style)}"
    return text + f"\n发送 /sources 可以查看资料库收录了哪些{listed}。"


def more_results(hits: Sequence[tuple[int, Passage]], style: Style) -> list[str]:
    """Further passages, numbered by their rank so `阅读全文 N` can point back at one."""
    blocks = [style.strong("更多结果")]
    for rank, passage in hits:
        snippet = passage.text if len(passage.text) <= SNIPPET_CHARS else passage.text[:SNIPPET_CHARS] + "…"
        blocks.append(
            f"{rank}. {style.strong(style.esc(clip(passage.title, TITLE_CHARS)))}\n{style.esc(snippet)}\n"
            f"{source_line(passage, style)}"
        )
    return pack(blocks)


def full_label(rank: int) -> str:
    return BUTTON_FULL if rank == 1 else f"全文 {rank}"


def place_label(passage: Passage) -> str:
    """A button that opens another place's article says whose it is."""
    return f"全文·{clip(passage.county or passage.place or str(passage.position), 8)}"


def article_parts(passages: Sequence[Passage], style: Style) -> list[str]:
    """The whole article (passages in position order) as one or more messages under Telegram's limit."""
    first = passages[0]
    meta = " · ".join(p for p in (first.place, first.date, first.byline) if p)
    header = style.strong(style.esc(clip(first.title, 2 * TITLE_CHARS)))
    header += f"\n{style.quiet(style.esc(clip(meta, TITLE_CHARS)))}" if meta else ""
    blocks = [header]
    for passage in passages:
        blocks.extend(split_escaped(passage.text, style))
    return number_parts(pack(blocks), style)


def expired() -> str:
    return "这条结果已过期（资料库已更新或记录已清理），请重新提问。"


def no_previous_answer() -> str:
    return "还没有可以展开的回答，请先提问。"


def rate_limited(wait_seconds: float, per_minute: int) -> str:
    return f"提问太频繁啦：每分钟最多 {per_minute} 个问题。请 {max(1, round(wait_seconds))} 秒后再问。"


# ---------------------------------------------------------------------- excerpts


def excerpt(passage: Passage, style: Style, daily: bool = False) -> str:
    """A substantive passage with title, place and date; a daily one says how to stop it."""
    heading = "每日摘录" if daily else "文章摘录"
    meta = " · ".join(
        [passage.place or "地点未注明", passage.date or "日期未注明", *([passage.byline] if passage.byline else [])]
    )
    body = split_escaped(passage.text, style, PART_LIMIT - 600)
    text = (
        f"{style.strong(heading)}\n{style.strong(style.esc(clip(passage.title, TITLE_CHARS)))}\n"
        f"{style.quiet(style.esc(clip(meta, TITLE_CHARS)))}\n\n{body[0] if body else ''}{'…' if len(body) > 1 else ''}"
    )
    if daily:
        text += "\n\n" + style.quiet("发送 /today 再读一段，/daily off 取消每日摘录。")
    return text


def no_excerpt() -> str:
    return "资料库里还没有可以摘录的文章。"


def daily_refused(chat_id: int, refused: Sequence[tuple[str, str]], delivered: bool, style: Style) -> str:
    """For the bot admins: a refused excerpt needs a fix in the corpus or the rendering, and the chat that
    missed it has nothing to report. `refused` is (passage id, Telegram's error) per skipped excerpt."""
    lines = [f"每日摘录发送异常：聊天 {chat_id} 有 {len(refused)} 段摘录被 Telegram 拒收，已跳过（不再重发）。"]
    lines += [f"· 段落 {style.esc(clip(pid, 80))}：{style.esc(clip(error, 300))}" for pid, error in refused]
    lines.append("随后已改发下一段。" if delivered else "本次没有发出摘录，下次推送从后面的段落继续。")
    return "\n".join(lines)


def daily_status(at: str, timezone: str) -> str:
    return f"已订阅每日摘录：每天 {at}（{timezone}）推送一段文章摘录。发送 /daily off 取消。"


def daily_subscribed(at: str, timezone: str) -> str:
    return (
        f"订阅成功：每天 {at}（{timezone}）推送一段文章摘录，按从新到旧的顺序轮换、不重复。\n"
        f"发送 /daily off 取消，/daily HH:MM 修改时间。"
    )


def daily_unsubscribed(was_subscribed: bool) -> str:
    return "已取消每日摘录。" if was_subscribed else "本聊天没有订阅每日摘录。"


def daily_bad_time(text: str, style: Style) -> str:
    return f"“{style.esc(text[:20])}”不是有效的时间。请用 24 小时制，例如 /daily 07:30，或 /daily off 取消。"


def group_admin_only(action: str) -> str:
    return f"只有群管理员可以{action}。"


def daily_console() -> str:
    return "终端模式不支持每日推送；请在 Telegram 中使用 /daily。可以用 /today 读一段摘录。"


# ---------------------------------------------------------------------- corpus overview


@dataclass(frozen=True)
class CorpusStats:
    articles: int
    captions: int
    passages: int
    files: int
    places: list[tuple[str, int]]  # (place, articles), most first
    newest_date: str
    built_at: str


def sources(stats: CorpusStats, style: Style, max_places: int = 12) -> str:
    if stats.articles == 0 and stats.captions == 0:
        return "资料库目前是空的。管理员可以上传文章文件后发送 /reindex。"
    lines = [
        style.strong("资料库概况"),
        f"文章：{stats.articles} 篇"
        + (f"（另有图片说明 {stats.captions} 条）" if stats.captions else "")
        + f"，共 {stats.passages} 个段落，来自 {stats.files} 个文件",
    ]
    if stats.places:
        shown = "、".join(f"{style.esc(clip(place, 30))} {count} 篇" for place, count in stats.places[:max_places])
        more = f" 等 {len(stats.places)} 地" if len(stats.places) > max_places else ""
        lines.append(f"地区：{shown}{more}")
    lines.append(f"最新日期：{style.esc(stats.newest_date)}" if stats.newest_date else "最新日期：文章未注明日期")
    if stats.built_at:
        lines.append(style.quiet(f"索引更新于 {style.esc(stats.built_at)}"))
    lines.append("问题超出这些文章的范围时，我会直说没有找到，不会编造。")
    return "\n".join(lines)


# ---------------------------------------------------------------------- fixed texts


def start(style: Style) -> str:
    return (
        f"你好！我是{style.strong('党建问答')}机器人，回答全部摘自本地收录的党建报刊文章，并注明出处。\n"
        f"直接发送问题即可，例如：{style.esc(EXAMPLE_QUESTION)}\n"
        "在群里请用 /ask 提问，或 @我、回复我的消息。发送 /help 查看全部命令。"
    )


def help_text(style: Style, commands: Sequence[tuple[str, str]], console: bool = False) -> str:
    """`commands` is the channel's (name, description) listing from `bot.chat.commands`."""
    lines = [
        style.strong("使用说明"),
        "直接输入问题即可提问；回答摘自资料库中的文章，加粗的句子就是答案，末行是出处。"
        if not console
        else "直接输入问题回车即可；【】中的句子就是答案，末行是出处。",
        "",
    ]
    lines += [f"/{name} — {style.esc(text)}" for name, text in commands]
    if not console:
        lines += [
            "",
            "群聊中：只回答 /ask、@我 或回复我的消息，其余聊天不打扰。",
            "回答下方的按钮：“更多结果”看其他相关段落，“阅读全文”看整篇文章；👍/👎 告诉我们回答有没有用。",
            "在任何聊天里输入 @机器人名 加问题，可以把带出处的回答直接分享出去（不必把我拉进群）。",
        ]
    lines += [
        "",
        "接着问：紧接着上一个问题可以说“那嘉祥县呢？”（换个地方问同一件事）、“第二条具体说说”“还有吗”（接着看同一篇文章）；"
        "说完整的新问题就重新开始，/new 立即换话题。",
    ]
    return "\n".join(lines)


def about(style: Style, articles: int, passages: int) -> str:
    return (
        f"{style.strong('党建问答')} · 离线问答机器人\n"
        f"资料库：{articles} 篇文章、{passages} 个段落。\n"
        "检索：关键词（BM25）与语义向量（multilingual-e5-small）混合检索，全部在本机运行。\n"
        "回答逐字摘自原文并注明出处；资料中没有的内容直接说明，不会编造。"
    )


def console_hint() -> str:
    return "党建问答（终端模式）：输入问题回车即可；/help 查看命令，/quit 退出。"


def console_buttons(labels: Sequence[tuple[str, str, int]]) -> str:
    """Console stand-in for inline buttons: (label, action, rank) → the command that does the same."""
    hints = []
    for label, action, rank in labels:
        if action in ("up", "down"):  # votes are Telegram's alone
            continue
        if action == "more":
            hints.append(f"/more {label}")
        else:
            hints.append(f"/full {label}" if rank == 1 else f"/full {rank} 阅读第 {rank} 条的全文")
    return "（" + " · ".join(hints) + "）"


def unknown_command(command: str, style: Style) -> str:
    return f"不认识的命令 {style.esc(command)}，发送 /help 查看可用命令。"


def ask_usage() -> str:
    return f"请在 /ask 后面写上问题，例如：/ask {EXAMPLE_QUESTION}"


# ---------------------------------------------------------------------- admin


def admin_only_mark(description: str) -> str:
    return f"{description}（仅管理员）"


def admin_only(action: str) -> str:
    return f"抱歉，只有管理员可以{action}。你可以直接向我提问。"


def reindex_busy() -> str:
    return "已有一个索引任务正在进行，请等它完成后再试。期间照常回答问题。"


def reindex_started(cancellable: bool = False) -> str:
    return "正在更新索引…（期间照常回答问题" + ("；发送 /reindex cancel 可以取消）" if cancellable else "）")


def reindex_progress(done: int, total: int) -> str:
    return f"正在编码 {done}/{total}…"


def reindex_done(
    articles: int, passages: int, added: int, removed: int, seconds: float, errors: Sequence[object], style: Style
) -> str:
    text = (
        f"索引已更新：共 {articles} 篇文章、{passages} 个段落；新增 {added} 段，移除 {removed} 段；"
        f"用时 {seconds:.1f} 秒。新索引已生效。"
    )
    if errors:
        listed = "\n".join(f"· {style.esc(clip(str(e), 200))}" for e in list(errors)[:5])
        text += f"\n有 {len(errors)} 个文件无法读取，已跳过：\n{listed}"
    return text


def reindex_failed(error: BaseException, style: Style) -> str:
    return (
        f"索引更新失败，仍在使用原来的索引。原因：{style.esc(clip(str(error) or type(error).__name__, REASON_CHARS))}"
    )


def token_rejected(detail: str, api_base: str) -> str:
    """Printed at start-up, for the operator: in both languages, since it may land in an English console."""
    return (
        f"Telegram 拒绝了机器人令牌（{detail}）：请检查 TELEGRAM_BOT_TOKEN 是否有效、是否已被撤销，"
        f"以及 TELEGRAM_API_BASE_URL（现为 {api_base}）是否正确。\n"
        f"Telegram rejected the bot token ({detail}): check TELEGRAM_BOT_TOKEN and TELEGRAM_API_BASE_URL."
    )


def api_unreachable(detail: str, api_base: str) -> str:
    return (
        f"无法连接 Telegram（{detail}）：请检查网络和 TELEGRAM_API_BASE_URL（现为 {api_base}）。\n"
        f"Cannot reach the Telegram Bot API ({detail}): check the network and TELEGRAM_API_BASE_URL."
    )


def reindex_resumed() -> str:
    return "上次更新索引时程序意外退出，现已重新开始（已编码的部分直接复用）…"


def reindex_pending() -> str:
    return "资料库里有尚未编入索引的改动（例如上传后程序重启），已开始更新索引…"


def reindex_cancelled() -> str:
    return "索引更新已取消，仍在使用原来的索引。已编码的部分会保留，下次更新不必重算。"


def reindex_cancelling() -> str:
    return "正在取消索引更新…（当前这一批编码完成后停止）"


def reindex_not_running() -> str:
    return "现在没有正在进行的索引更新。"


def upload_unsupported(name: str, suffixes: Iterable[str], style: Style) -> str:
    return f"不支持这种文件：{style.esc(name)}。支持的格式：" + " ".join(sorted(suffixes))


def upload_too_big(size: int, limit: int) -> str:
    return f"文件太大（{size / 1048576:.1f} MB），上限是 {limit / 1048576:.0f} MB。"


def upload_invalid(name: str, reason: str, style: Style) -> str:
    return f"文件 {style.esc(clip(name, 100))} 无法解析，资料库没有任何改动。\n原因：{style.esc(clip(reason, REASON_CHARS))}"


def upload_too_many(count: int, limit: int) -> str:
    return f"这个文件有 {count} 篇文章，单个文件最多 {limit} 篇。请拆成几个文件分别上传，资料库没有任何改动。"


def upload_not_saved(error: OSError, style: Style) -> str:
    reason = error.strerror or type(error).__name__
    return (
        f"文件没能保存（{style.esc(clip(reason, REASON_CHARS))}，可能是磁盘满了），资料库没有任何改动。请联系管理员。"
    )


def upload_duplicate(existing: str, style: Style) -> str:
    return f"资料库中已有内容相同的文件 {style.esc(existing)}，无需重复上传。"


def upload_saved(saved_as: str, titles: Sequence[str], style: Style) -> str:
    shown = "、".join(f"《{style.esc(clip(t, 60))}》" for t in titles[:3]) + (" 等" if len(titles) > 3 else "")
    return f"已收到 {len(titles)} 篇文章：{shown}，保存为 {style.esc(saved_as)}。接下来更新索引。"


def upload_saved_busy() -> str:
    return "另一个索引任务正在进行；等它完成后请发送 /reindex，新文章才会生效。"


# ---------------------------------------------------------------------- feedback, gaps, quizzes

BUTTON_UP = "👍 有用"
BUTTON_DOWN = "👎 没用"
RANK_LINES = 20
GAP_TOPICS = 15
GAP_EXAMPLE_CHARS = 60


def vote_thanks(up: bool, changed: bool) -> str:
    """A toast (answerCallbackQuery, at most 200 characters)."""
    if not changed:
        return "你已经评价过这条回答了。"
    return "谢谢！已记下这条回答有用。" if up else "谢谢反馈！已记下这条回答没用，管理员会据此补充资料。"


def vote_failed() -> str:
    return "暂时无法记录评价，请稍后再试。"


def quiz_status(enabled: bool, subscribed: bool) -> str:
    if not enabled:
        return "本聊天的每日一题已关闭。发送 /quiz on 开启：每日摘录之后附一道选择题。"
    text = "本聊天已开启每日一题：每日摘录之后附一道选择题（/quiz off 关闭，/rank 看本周排行）。"
    return text if subscribed else text + "\n还没有订阅每日摘录，请先发送 /daily 订阅，题目随摘录一起发。"


def quiz_changed(enabled: bool, subscribed: bool) -> str:
    if not enabled:
        return "已关闭每日一题。每日摘录照常推送；发送 /quiz on 可重新开启。"
    text = (
        "已开启每日一题：每天的摘录之后附一道选择题，题目出自当天摘录的原文，答完即可看到解析。"
        "发送 /rank 查看本周答题排行。"
    )
    return text if subscribed else text + "\n还没有订阅每日摘录，请先发送 /daily 订阅，题目随摘录一起发。"


def quiz_usage() -> str:
    return "用法：/quiz on 开启每日一题，/quiz off 关闭，/quiz 查看状态。"


def rank(sent: int, rows: Sequence[tuple[int, str, int, int]], enabled: bool, style: Style) -> str:
    """The chat's standing this week; `rows` are (user id, name, answered, correct), best first."""
    if sent == 0:
        hint = "" if enabled else "发送 /quiz on 开启每日一题。"
        return f"本周还没有发出每日一题。{hint}".strip()
    lines = [style.strong("本周每日一题排行"), f"已出 {sent} 题，{len(rows)} 人参与。"]
    if not rows:
        lines.append("还没有人答题。")
    for place, (_, name, answered, correct) in enumerate(rows[:RANK_LINES], start=1):
        lines.append(f"{place}. {style.esc(clip(name, 30))}：答 {answered} 题，答对 {correct} 题")
    if len(rows) > RANK_LINES:
        lines.append(f"……另有 {len(rows) - RANK_LINES} 人")
    return "\n".join(lines)


def gaps_usage() -> str:
    return "用法：/gaps 查看最近 7 天的未答问题，/gaps 30 查看最近 30 天（最多 90 天）。"


def gaps(found: Sequence[Topic], days: int, style: Style) -> list[str]:
    """Topics newest first: counts, the shared words, example wording; the .jsonl export follows separately."""
    if not found:
        return [f"最近 {days} 天没有拒答或被点 👎 的问题。"]
    total = sum(len(t.gaps) for t in found)
    blocks = [
        f"{style.strong(f'最近 {days} 天的资料缺口')}\n"
        f"共 {total} 个问题（拒答或被点 👎），按话题归为 {len(found)} 组，最近的在前："
    ]
    for i, topic in enumerate(found[:GAP_TOPICS], start=1):
        counts = "，".join(
            f"{label} {n}"
            for label, n in (("拒答", topic.count(Why.REFUSED)), ("👎", topic.count(Why.VOTED_DOWN)))
            if n
        )
        label = f"{style.strong(style.esc(clip(topic.label, 40)))}（{counts}）" if topic.label else f"（{counts}）"
        examples = list(dict.fromkeys(g.question for g in topic.gaps))[:2]
        lines = [f"{i}. {label}"]
        lines += [f"   · {style.esc(clip(' '.join(q.split()), GAP_EXAMPLE_CHARS))}" for q in examples]
        blocks.append("\n".join(lines))
    if len(found) > GAP_TOPICS:
        blocks.append(f"……另有 {len(found) - GAP_TOPICS} 组，见导出文件。")
    return number_parts(pack(blocks, joiner="\n"), style)


def gaps_private_only() -> str:
    return "资料缺口里有各个聊天成员的提问，请私聊我发送 /gaps 查看。"


def gaps_file_caption(count: int) -> str:
    return f"{count} 个问题，评测格式（.jsonl）：补充文章后填上 gold，即可用 python -m bot eval 当作测试题。"


def gaps_saved(path: str) -> str:
    return f"已导出为评测格式：{path}"


def gaps_weekly_head(first_part: str) -> str:
    """The weekly summary to admins is the first part of /gaps under its own line; it stays within a message
    because /gaps parts leave room for a label."""
    return f"每周资料缺口汇总（发送 /gaps 可导出 .jsonl，/gaps 30 看 30 天）\n\n{first_part}"
