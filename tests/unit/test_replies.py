"""bot.chat.replies: escaping, answer marking, refusals and message splitting under Telegram's limit."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from bot.chat.commands import menu
from bot.chat.replies import (
    HTML,
    PLAIN,
    TELEGRAM_LIMIT,
    CorpusStats,
    answer_text,
    article_parts,
    console_buttons,
    excerpt,
    help_text,
    more_results,
    pack,
    refusal,
    sources,
    split_escaped,
    units,
)
from bot.retrieval.answer import Answer, Source
from bot.retrieval.passages import Passage
from bot.retrieval.search import Hit


def make_passage(text: str, position: int = 0, **fields) -> Passage:
    base = dict(
        passage_id=f"p{position}",
        article_id="a#0",
        title="标题<&>",
        place="金乡",
        date="2024-05-01",
        byline="本报讯（通讯员 张三）",
        source="a.txt",
        position=position,
        text=text,
    )
    base.update(fields)
    return Passage(**base)


def make_answer(text: str, sentences: list[str], question: str = "问题") -> Answer:
    return Answer(question, False, "", sentences, [Hit(make_passage(text), 1.0)])


class TagBalance(HTMLParser):
    """Telegram rejects unbalanced tags and bare '<' / '&': check a part the way it would."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.ok = True

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)

    def handle_endtag(self, tag):
        self.ok = self.ok and bool(self.stack) and self.stack.pop() == tag


def assert_valid_html(part: str) -> None:
    parser = TagBalance()
    parser.feed(part)
    assert parser.ok and not parser.stack, part[:200]
    stripped = re.sub(r"</?(b|i|code)>", "", part)
    assert "<" not in stripped and ">" not in stripped
    assert not re.search(r"&(?!(amp|lt|gt);)", stripped)
    assert units(part) <= TELEGRAM_LIMIT


def test_answer_bolds_the_sentences_and_escapes_everything() -> None:
    text = "第一句说明背景。第二句 a<b & c>d 是答案。第三句。"
    answer = make_answer(text, ["第二句 a<b & c>d 是答案。"])
    html = answer_text(answer, HTML)
    assert "<b>第二句 a&lt;b &amp; c&gt;d 是答案。</b>" in html
    assert "出处：标题&lt;&amp;&gt; · 金乡 · 2024-05-01 · 本报讯（通讯员 张三）" in html
    assert_valid_html(html)
    plain = answer_text(answer, PLAIN)
    assert plain.startswith("第一句说明背景。【第二句 a<b & c>d 是答案。】第三句。")
    assert plain.endswith("出处：标题<&> · 金乡 · 2024-05-01 · 本报讯（通讯员 张三）")


def test_the_same_articles_other_paragraph_is_quoted_after_the_citation() -> None:
    answer = make_answer("导语：某县推行擂台比武。", ["导语：某县推行擂台比武。"])
    other = make_passage("比武分为<述职>、答辩两个环节。" + "评委打分。" * 60, position=1)
    answer.beside = Source(2, Hit(other, 0.9), other.text)
    html = answer_text(answer, HTML)
    citation = html.index("出处：")
    assert citation < html.index("<b>同一篇报道还写道</b>\n比武分为&lt;述职&gt;、答辩两个环节。")
    assert_valid_html(html)
    plain = answer_text(answer, PLAIN)
    assert len(plain.split("同一篇报道还写道\n")[1]) <= 160  # a run-on sentence is clipped


@pytest.mark.parametrize(
    "reason, expected",
    [
        ("empty", "请直接输入问题"),
        ("too_long", "问题太长了"),
        ("no_text", "请用文字提问"),
        ("no_match", "/sources"),
    ],
)
def test_refusals_say_why(reason: str, expected: str) -> None:
    question = "x" * 600 if reason == "too_long" else "<b>问题</b>"
    text = refusal(Answer(question, True, reason), HTML)
    assert expected in text
    assert "<b>问题</b>" not in text  # user text is never markup
    assert_valid_html(text)


def test_refusal_echo_is_escaped_and_short() -> None:
    text = refusal(Answer("<i>" + "很长的问题" * 40, True, "no_match"), HTML)
    assert "&lt;i&gt;" in text and "…" in text and len(text) < 200


def test_long_article_is_split_safely_and_completely() -> None:
    paragraphs = [f"第{i}段：" + "党建引领基层治理，<要点> & 措施；" * 30 + "完。" for i in range(40)]
    passages = [make_passage(p, i) for i, p in enumerate(paragraphs)]
    parts = article_parts(passages, HTML)
    assert len(parts) > 1
    for part in parts:
        assert_valid_html(part)
    joined = "".join(parts)
    positions = [joined.index(f"第{i}段：") for i in range(40)]
    assert positions == sorted(positions)
    assert parts[0].startswith("<b>标题&lt;&amp;&gt;</b>") and f"（{len(parts)}/{len(parts)}）" in parts[-1]


def test_a_single_giant_paragraph_is_cut_without_breaking_entities() -> None:
    raw = "&" * 9000 + "🙂" * 3000  # no sentence ends; escaping quintuples '&', emoji count double
    pieces = split_escaped(raw, HTML)
    assert "".join(pieces) == "&amp;" * 9000 + "🙂" * 3000
    for piece in pieces:
        assert_valid_html(piece)
        assert not piece.endswith(("&", "&a", "&am", "&amp"))


def test_pack_keeps_blocks_whole() -> None:
    blocks = ["甲" * 1500, "乙" * 1500, "丙" * 1500]
    parts = pack(blocks, limit=3100)
    assert parts == ["甲" * 1500 + "\n\n" + "乙" * 1500, "丙" * 1500]


def test_more_results_and_excerpt() -> None:
    hits = [(2, make_passage("第二条结果。" * 5, 1)), (3, make_passage("很长" * 200, 2, title="另一篇"))]
    (text,) = more_results(hits, HTML)
    assert text.startswith("<b>更多结果</b>") and "2. <b>标题&lt;&amp;&gt;</b>" in text and "…" in text
    assert_valid_html(text)
    daily = excerpt(make_passage("正文<很重要>。" * 10), HTML, daily=True)
    assert daily.startswith("<b>每日摘录</b>\n<b>标题&lt;&amp;&gt;</b>\n<i>金乡 · 2024-05-01 · 本报讯")
    assert "/daily off" in daily
    assert_valid_html(daily)
    undated = excerpt(make_passage("正文。" * 30, date="", place=""), PLAIN)
    assert "地点未注明 · 日期未注明" in undated


def test_sources_overview() -> None:
    stats = CorpusStats(
        articles=6,
        captions=2,
        passages=37,
        files=1,
        places=[("金乡", 1), ("<嘉祥>", 1)],
        newest_date="",
        built_at="2026-01-01T00:00:00",
    )
    text = sources(stats, HTML)
    assert "文章：6 篇（另有图片说明 2 条），共 37 个段落" in text and "&lt;嘉祥&gt; 1 篇" in text
    assert "文章未注明日期" in text
    assert_valid_html(text)
    empty = sources(CorpusStats(0, 0, 0, 0, [], "", ""), HTML)
    assert "空的" in empty


def test_command_menu_is_valid_for_telegram() -> None:
    for name, description in menu():
        assert re.fullmatch(r"[a-z0-9_]{1,32}", name)
        assert 3 <= len(description) <= 256 and re.search(r"[\u4e00-\u9fff]", description)
    assert_valid_html(help_text(HTML, menu()))
    console = [("quit", "退出")]
    assert "/quit" in help_text(PLAIN, console, console=True) and "/quit" not in help_text(HTML, menu())


def test_console_buttons() -> None:
    assert console_buttons([("更多结果", "more", 1), ("阅读全文", "full", 1)]) == "（/more 更多结果 · /full 阅读全文）"
    assert "/full 3" in console_buttons([("全文 3", "full", 3)])
