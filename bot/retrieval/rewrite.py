"""Follow-up questions: “那嘉祥县呢？” and “第二条具体说说” read against what the conversation was about.

A member asks “3+1帮带制是怎么运作的？”, then “那嘉祥县呢？”, then “第二条具体说说”. Searched alone, the second
finds 嘉祥's lead paragraph at best and the third nothing. Here a follow-up is recognised only by its whole
shape — a place and nothing but filler words, an ordinal, “还有吗” — so that any message carrying words of
its own is a new question and is never glued to the old one. The chat layer keeps a `Thread` per
conversation; this module knows nothing about chats, users or time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from bot.ingest.places import gazetteer, to_simplified
from bot.retrieval.answer import LIST_QUESTION, Answer, answer, hit_sentences, pick_sentences
from bot.retrieval.passages import Passage
from bot.retrieval.search import Hit, Searcher
from bot.retrieval.sentences import sentence_units, split_sentences

Kind = Literal["new", "swap", "item", "more"]

_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_END = r"[\s，,。.！!？?~～…]*"
_ASK = r"(?:呢|吧|吗|啊|呀)?"
_TELL = (
    r"(?:(?:能|可以|能不能|可不可以|麻烦|请|再)?(?:具体|详细|展开|仔细|多)?(?:一点|一些|点|些)?"
    r"(?:说说|讲讲|说一说|讲一讲|说下|讲下|说一下|讲一下|介绍一下|介绍介绍|谈谈|解释一下|展开说说|展开讲讲)"
    r"|是什么|是啥|讲的什么|说的什么|是怎么做的|是怎么搞的|怎么做的|怎么搞的|具体是什么|具体内容)"
)
_ORDINAL = re.compile(
    rf"(?:那|那么)?(?:第|其)(?P<n>[一二两三四五六七八九十]|10|[1-9])(?:条|个|点|项|方面|种|部分|段|家|个地方|处)?"
    rf"(?:的|是)?{_TELL}?{_ASK}{_END}"
)
_MORE = re.compile(
    rf"(?:那|那么)?(?:{_TELL}"
    r"|还有(?:吗|呢|没有|别的吗|别的呢|其他的吗|其他的呢|什么|啥|别的|其他)?"
    r"|然后呢|接着说|接着讲|继续|继续说|继续讲|下一条|下一个|下一段|往下说|后面呢|后来呢|接下来呢|再来一段|再来一条|多说点|详细点|具体点)"
    rf"{_ASK}{_END}"
)
_INFORMAL = frozenset("县市区")
_PLACE = "\x00"  # stands for the place names in a message, so its filler can be matched
_SWAP = re.compile(
    rf"(?:那|那么|那在|那个|换成|换到|换作|要是|如果是|看看|说说)?{_PLACE}(?:那边|那里|这边|的话|的)?"
    r"(?:呢|怎么样|咋样|怎样|如何|怎么做的|是怎么做的|怎么搞的|是怎么搞的|咋搞的|咋弄的|有吗|也有吗|有没有|也搞了吗|的情况呢|的做法呢)?"
    rf"{_ASK}{_END}"
)
_TOPIC = re.compile(r"(?:那|那么)(?P<topic>[\u4e00-\u9fff0-9A-Za-z+“”\"]{2,12}?)(?:呢|怎么样|咋样)[\s？?]*")
SWAP_DEPTH = 50  # hits searched for the swapped-in place's own paragraphs
ITEMS_MIN = 3  # fewer short openings than this are a coincidence, not a list of items
ITEM_TITLE_CHARS = 18
_POINTING = frozenset("这个 那个 这样 那样 这些 那些 这里 那里 这边 那边 别的 其他".split())


@dataclass(frozen=True)
class Thread:
    """What one conversation's last answer was about: enough to read its next follow-up."""

    question: str  # as the bot understood it: a rewritten follow-up in full
    article_id: str = ""  # the article the answer showed; "" after a refusal
    shown: tuple[int, ...] = ()  # positions of that article's passages shown so far
    listed: tuple[tuple[str, int], ...] = ()  # a list answer's lines, (article, position), so 第二个 opens one


@dataclass(frozen=True)
class FollowUp:
    kind: Kind
    question: str  # what to search: the message itself (new) or the rewritten question (swap)
    ordinal: int = 0  # item: which one, from 1


@dataclass(frozen=True)
class Step:
    """One message answered: the answer, the thread it leaves, and how the message was read when it was
    not taken as it stands."""

    kind: Kind  # how the message was read
    answer: Answer  # a continuation with nothing to show abstains: "no_thread", "no_item", "article_end"
    thread: Thread | None
    understood: str = ""
    items: int = 0  # no_item: how many there are


CONTINUATION_REFUSALS = ("no_thread", "no_item", "article_end")


def respond(message: str, thread: Thread | None, searcher: Searcher, k: int = 5, max_chars: int = 500) -> Step:
    """The message answered in the light of the conversation's thread (None: no live thread)."""
    follow = read(message, thread)
    if follow.kind in ("item", "more"):
        if thread is None or not thread.article_id:
            return Step(follow.kind, Answer(message, True, "no_thread"), thread)
        return continue_thread(thread, follow, searcher)
    result = answer(follow.question, searcher, k=k, max_chars=max_chars)
    if follow.kind == "new":
        return Step("new", result, thread_of(follow.question, result))
    if result.reason == "place_unanswered":
        result = _in_places(follow.question, set(result.absent), searcher, k)
    return Step("swap", result, thread_of(follow.question, result), follow.question)


def _in_places(question: str, places: set[str], searcher: Searcher, k: int) -> Answer:
    """“那嘉祥县呢？” after 金乡's practice asks what 嘉祥县 does on the subject, even where its articles do not
    name that practice: its own best paragraphs, or a refusal when it has none — never the other place's."""
    result = searcher.search(question, k=SWAP_DEPTH)
    hits = [h for h in result.hits if searcher.index.about(h.passage, places)][:k]
    if not hits:
        return Answer(question, True, "no_match")
    return Answer(question, False, "", hit_sentences(question, hits[0], searcher), hits)


def read(message: str, thread: Thread | None) -> FollowUp:
    """What the member means. A continuation is recognised even without a thread, so the channel can say
    there is nothing to continue instead of searching for “还有吗”."""
    text = to_simplified(message).strip()
    compact = re.sub(r"\s+", "", text)
    ordinal = _ORDINAL.fullmatch(compact)
    if ordinal:
        n = ordinal["n"]
        return FollowUp("item", message, int(n) if n.isdigit() else _NUMERALS[n])
    if _MORE.fullmatch(compact):
        return FollowUp("more", message)
    if thread is None:
        return FollowUp("new", message)
    swapped = _swap_place(compact, thread.question)
    if swapped:
        return FollowUp("swap", swapped)
    topic = _TOPIC.fullmatch(compact)
    if topic and topic["topic"] not in _POINTING and not gazetteer().find(topic["topic"]):
        place = _places_span(to_simplified(thread.question))
        if place:
            return FollowUp("swap", f"{place[2]}的{topic['topic']}")
    return FollowUp("new", message)


def _place_spans(text: str) -> list[tuple[int, int]]:
    """Where `text` names places, each span taking an informal suffix along (三江县 for 三江侗族自治县)."""
    spans = []
    for mention in gazetteer().find(text):
        end = mention.end
        if not mention.full and text[end : end + 1] in _INFORMAL:
            end += 1
        spans.append((mention.start, end))
    return spans


def _places_span(text: str) -> tuple[int, int, str] | None:
    """The first run of adjacent place names in `text` (湖北红安 is one run), as (start, end, surface)."""
    spans = _place_spans(text)
    if not spans:
        return None
    start, end = spans[0]
    for a, b in spans[1:]:
        if a != end:
            break
        end = b
    return start, end, text[start:end]


def _swap_place(compact: str, previous: str) -> str | None:
    """The previous question about the place(s) the message names, when the message is nothing but them."""
    spans = _place_spans(compact)
    if not spans:
        return None
    shape, cursor = "", 0
    for start, end in spans:
        shape += compact[cursor:start] + _PLACE
        cursor = end
    shape = re.sub(f"{_PLACE}+", _PLACE, shape + compact[cursor:])
    if not _SWAP.fullmatch(shape):
        return None
    place = "".join(compact[start:end] for start, end in spans)
    asked = to_simplified(previous).strip()
    if LIST_QUESTION.search(asked):  # 哪些地方在搞积分超市 → 兰考的积分超市是怎么做的
        topic = LIST_QUESTION.sub("", asked).strip(" ？?")
        return f"{place}的{topic}是怎么做的？"
    span = _places_span(asked)
    if span is None:
        return place + asked
    start, end, _ = span
    return asked[:start] + place + asked[end:]


def thread_of(question: str, result: Answer) -> Thread:
    """The thread a fresh answer starts: its article, or a list answer's places line by line."""
    if result.passage is None:
        return Thread(question)
    top = result.passage
    listed: tuple[tuple[str, int], ...] = ()
    if result.listing:
        listed = ((top.article_id, top.position), *((s.passage.article_id, s.passage.position) for s in result.also))
    return Thread(question, top.article_id, (top.position,), listed)


def continue_thread(thread: Thread, follow: FollowUp, searcher: Searcher) -> Step:
    """第N条 / 还有吗 inside the article the thread last showed (第N个 of a list answer opens its N-th place).

    An article written as a lead and headed items (“实行“3+1”帮带制。…”) counts its items; one without
    headings counts its paragraphs after the lead. 还有吗 shows the next paragraph not shown yet, or else
    the first one skipped. Nothing is searched: the member asked for this article.
    """
    if follow.kind == "item" and thread.listed:
        if follow.ordinal > len(thread.listed):
            return _refused(thread, follow, f"第{follow.ordinal}个地方", "no_item", len(thread.listed))
        article, position = thread.listed[follow.ordinal - 1]
        passage = next(p for p in _article(searcher, article) if p.position == position)
        place = passage.county or passage.place or passage.title
        chosen = replace(thread, article_id=article, shown=(position,), listed=())
        return _step("item", passage, chosen, f"第{follow.ordinal}个地方：{place}", searcher)
    passages = _article(searcher, thread.article_id)
    title = passages[0].title if passages else ""
    if follow.kind == "item":
        items = [p for p in passages if _headed(p.text)]
        if len(items) < ITEMS_MIN:
            items = passages[1:]
        if follow.ordinal > len(items):
            return _refused(thread, follow, f"《{title}》第{follow.ordinal}条", "no_item", len(items))
        passage = items[follow.ordinal - 1]
        understood = f"《{title}》第{follow.ordinal}条"
    else:
        last = thread.shown[-1] if thread.shown else -1
        unseen = [p for p in passages if p.position not in thread.shown]
        later = [p for p in unseen if p.position > last]
        if not unseen:
            return _refused(thread, follow, f"《{title}》后面的内容", "article_end", 0)
        passage = (later or unseen)[0]
        understood = f"《{title}》的{'下一段' if later else '前面一段'}"
    shown = replace(thread, shown=(*thread.shown, passage.position))
    return _step(follow.kind, passage, shown, understood, searcher)


def _headed(text: str) -> bool:
    """“实行“3+1”帮带制。” opening a paragraph: a short statement (figures allowed, unlike an answer's
    heading) that the paragraph goes on to explain; a question or a quotation is not an item's title."""
    sentences = split_sentences(text)
    first = sentences[0] if sentences else ""
    return len(sentences) >= 2 and len(first) <= ITEM_TITLE_CHARS and first.endswith("。") and first[0] != "“"


def _article(searcher: Searcher, article_id: str) -> list[Passage]:
    """The article's passages in order, photo captions left out."""
    index = searcher.index
    found = [index.passages[i] for i in index.articles.get(article_id, ())]
    return sorted((p for p in found if p.kind != "caption"), key=lambda p: p.position)


def _step(kind: Kind, passage: Passage, thread: Thread, understood: str, searcher: Searcher) -> Step:
    """An item is shown with its own opening in bold; a further paragraph with what answers the topic."""
    if kind == "item":
        sentences = sentence_units(passage.text)[:1]
    else:
        index = searcher.index
        sentences = pick_sentences(thread.question, passage.text, index.segmenter.tokens, index.idf)
    return Step(kind, Answer(understood, False, "", sentences, [Hit(passage, 1.0)]), thread, understood)


def _refused(thread: Thread, follow: FollowUp, understood: str, reason: str, count: int) -> Step:
    return Step(follow.kind, Answer(follow.question, True, reason), thread, understood, count)
