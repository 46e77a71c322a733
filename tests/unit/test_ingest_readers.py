"""Every supported format read from real files, and every kind of broken file reported by name."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import docx
import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from bot.ingest import SUPPORTED_SUFFIXES, IngestError, load_corpus, load_file, read_file

SEED = Path(__file__).parents[1] / "data" / "ingest" / "seed_page.txt"

MARKDOWN = """\
---
title: 嘉祥县推进干部监督全覆盖
date: 2022-10-14
place: 嘉祥
source: 济宁日报
author: 邓金华
url: https://example.org/a
---
# 嘉祥县推进干部监督全覆盖

今年以来，嘉祥县管重点、破难点，
完善干部监督机制。

## 重点管住“关键少数”

注重领导干部的示范作用，建设项目 100 余个。
"""

PDF_PAGE = [
    "本报兖州讯（记者 王小明）近日，兖州区新驿镇组织开展",
    "“党员进网格”活动，走访群众1200余户，对问题立即",
    "",
    "办理，建立台账、限期销号。",
    "",
    "兖州新驿：党员进网格",
    "服务零距离",
]


def _write_pdf(path: Path, lines: list[str], font: str = "STSong-Light") -> None:
    """Single-column page; a blank entry leaves a paragraph-sized gap like a column break."""
    if font == "STSong-Light":
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    page = canvas.Canvas(str(path))
    page.setFont(font, 12)
    y = 800
    for line in lines:
        y -= 14
        if line:
            page.drawString(50, y, line)
    page.save()


def _write_docx(path: Path, paragraphs: list[tuple[str, str | None]]) -> None:
    document = docx.Document()
    for text, style in paragraphs:
        document.add_paragraph(text, style=style)
    document.save(str(path))


# --- Markdown -----------------------------------------------------------------------------------


def test_markdown_front_matter(tmp_path):
    path = tmp_path / "a.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    (article,) = load_file(path, tmp_path)
    assert article.title == "嘉祥县推进干部监督全覆盖"
    assert article.date == "2022-10-14"
    assert article.place == "嘉祥"
    assert article.author == "邓金华"
    assert article.url == "https://example.org/a"
    assert article.meta["publication"] == "济宁日报"
    assert article.paragraphs == [
        "今年以来，嘉祥县管重点、破难点，完善干部监督机制。",
        "注重领导干部的示范作用，建设项目100余个。",
    ]
    assert article.source == "a.md" and article.article_id == "a.md#0"


def test_markdown_without_front_matter_uses_heading_and_byline(tmp_path):
    path = tmp_path / "b.md"
    path.write_text(
        "# 金乡实行“四制”工作法\n\n本报金乡讯（通讯员 李鹏昊）今年以来，金乡县全面推行工作法。\n", encoding="utf-8"
    )
    (article,) = load_file(path)
    assert article.title == "金乡实行“四制”工作法"
    assert article.place == "金乡"
    assert article.byline == "本报金乡讯（通讯员 李鹏昊）"
    assert article.author == "李鹏昊"
    assert article.paragraphs == ["今年以来，金乡县全面推行工作法。"]
    assert article.date == ""


def test_markdown_place_from_title(tmp_path):
    path = tmp_path / "c.md"
    path.write_text("---\ntitle: 汶上县白石镇助力秋收\ndate: 2022年10月1日\n---\n正文一段。\n", encoding="utf-8")
    (article,) = load_file(path)
    # the gazetteer names the county in full and keeps the town as a field of its own
    assert (article.place, article.town, article.date) == ("汶上县", "白石镇", "2022-10-01")
    assert (article.province, article.city, article.county) == ("山东省", "济宁市", "汶上县")


def test_markdown_bad_front_matter(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: [unclosed\n---\n正文。\n", encoding="utf-8")
    with pytest.raises(IngestError, match="bad.md"):
        load_file(path)


def test_markdown_with_only_headings_has_no_text(tmp_path):
    path = tmp_path / "h.md"
    path.write_text("---\ntitle: 标题\n---\n# 标题\n", encoding="utf-8")
    with pytest.raises(IngestError, match="h.md: 没有正文"):
        load_file(path)


# --- JSONL --------------------------------------------------------------------------------------


def _jsonl_lines() -> list[str]:
    good = {
        "title": "邹城：擂台比武",
        "text": "第一段，\n换行续写。\n\n第二段。",
        "source": "济宁日报",
        "date": "2022-10-14",
    }
    extra = {
        "title": "梁山第一书记抓党建",
        "text": "正文。",
        "source": "济宁日报",
        "date": "20221015",
        "place": "梁山",
        "author": "杨景雪",
        "url": "https://example.org/l",
    }
    return [
        json.dumps(good, ensure_ascii=False),
        "{not json",
        "",
        json.dumps(extra, ensure_ascii=False),
        json.dumps({"title": "缺正文"}, ensure_ascii=False),
    ]


def test_jsonl_keeps_good_lines_and_reports_bad_ones(tmp_path):
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(_jsonl_lines()) + "\n", encoding="utf-8")
    articles, errors = read_file(path, tmp_path)
    assert [a.title for a in articles] == ["邹城：擂台比武", "梁山第一书记抓党建"]
    first, second = articles
    assert first.paragraphs == ["第一段，换行续写。", "第二段。"]
    # the gazetteer knows 邹城 (a county-level city of 济宁), so a bare `邹城：` title places the article
    assert (first.place, first.province, first.city, first.county) == ("邹城市", "山东省", "济宁市", "邹城市")
    assert (second.place, second.author, second.url, second.date) == (
        "梁山",
        "杨景雪",
        "https://example.org/l",
        "2022-10-15",
    )
    assert first.meta["publication"] == "济宁日报"
    assert [a.article_id for a in articles] == ["news.jsonl#1", "news.jsonl#4"]
    assert [(e.path, e.reason.split("：")[0]) for e in errors] == [("news.jsonl", "第 2 行"), ("news.jsonl", "第 5 行")]
    assert "news.jsonl: 第 2 行：不是有效的 JSON" in str(errors[0])
    with pytest.raises(IngestError, match="第 2 行"):
        load_file(path, tmp_path)


def test_jsonl_non_object_line(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(IngestError, match="第 1 行：应是一个 JSON 对象"):
        load_file(path)


# --- DOCX ---------------------------------------------------------------------------------------


def test_docx_title_style(tmp_path):
    path = tmp_path / "a.docx"
    _write_docx(
        path,
        [
            ("曲阜市石门山镇创新发展渔业养殖", "Title"),
            ("本报曲阜讯（通讯员 王赫）2021年以来，工作队坚持党建引领。", None),
            ("一、红色引领", "Heading 2"),
            ("项目位于景区内，建设内容包括养殖车间。", None),
        ],
    )
    (article,) = load_file(path, tmp_path)
    assert article.title == "曲阜市石门山镇创新发展渔业养殖"
    assert article.paragraphs == ["2021年以来，工作队坚持党建引领。", "项目位于景区内，建设内容包括养殖车间。"]
    assert (article.place, article.byline, article.author) == ("曲阜", "本报曲阜讯（通讯员 王赫）", "王赫")
    assert (article.county, article.town) == ("曲阜市", "石门山镇")


def test_docx_first_short_line_is_title(tmp_path):
    path = tmp_path / "b.docx"
    _write_docx(
        path, [("第一书记助力三秋生产", None), ("白石镇地处山区，玉米成熟较早。", None), ("确保秋粮颗粒归仓。", None)]
    )
    (article,) = load_file(path)
    assert article.title == "第一书记助力三秋生产"
    assert article.paragraphs == ["白石镇地处山区，玉米成熟较早。", "确保秋粮颗粒归仓。"]


def test_docx_without_title_infers_one(tmp_path):
    path = tmp_path / "c.docx"
    _write_docx(path, [("白石镇地处山区，玉米成熟较早。", None)])
    (article,) = load_file(path)
    assert article.title == "白石镇地处山区"
    assert article.meta["title_inferred"] is True


# --- PDF ----------------------------------------------------------------------------------------


def test_pdf_chinese_page_goes_through_the_newspaper_parser(tmp_path):
    path = tmp_path / "2023-05-06_p1.pdf"
    _write_pdf(path, PDF_PAGE)
    (article,) = load_file(path, tmp_path)
    assert article.title == "兖州新驿：党员进网格服务零距离"
    assert article.place == "兖州"
    assert article.byline == "本报兖州讯（记者 王小明）"
    assert article.date == "2023-05-06"
    assert article.paragraphs == [
        "近日，兖州区新驿镇组织开展“党员进网格”活动，走访群众1200余户，对问题立即办理，建立台账、限期销号。"
    ]
    assert article.source == "2023-05-06_p1.pdf"


def test_pdf_without_text_is_reported(tmp_path):
    path = tmp_path / "blank.pdf"
    _write_pdf(path, [])
    with pytest.raises(IngestError, match="blank.pdf: PDF 里没有可提取的文字"):
        load_file(path)


# --- broken files and the corpus walk -----------------------------------------------------------


BROKEN = {
    "empty.txt": b"",
    "blank.md": b"  \n\n",
    "latin1.txt": "café 本报".encode()[:-1] + b"\xff\xfe",
    "binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "bad.jsonl": b"{oops\n",
    "fake.docx": b"this is not a zip file",
    "corrupt.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage without xref",
    "notes.xlsx": b"PK\x03\x04whatever",
    "noext": b"hello",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_file_raises_naming_it(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BROKEN[name])
    with pytest.raises(IngestError) as info:
        load_file(path, tmp_path)
    assert info.value.path == name
    assert name in str(info.value)


def test_load_corpus_reports_broken_files_and_loads_the_rest(tmp_path):
    for name, data in BROKEN.items():
        (tmp_path / name).write_bytes(data)
    shutil.copy(SEED, tmp_path / "page.txt")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text(MARKDOWN, encoding="utf-8")
    (tmp_path / "sub" / "README.md").write_text("# 子目录说明\n\n这也是一篇文章。\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# 语料说明\n\n不是文章。\n", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("本报嘉祥讯（通讯员 甲）隐藏。\n", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("隐藏目录。\n", encoding="utf-8")

    articles, errors = load_corpus(tmp_path)

    assert sorted(e.path for e in errors) == sorted(BROKEN)
    assert {a.source for a in articles} == {"page.txt", "sub/a.md", "sub/README.md"}
    assert len([a for a in articles if a.source == "page.txt"]) == 8
    assert [a.source for a in articles] == sorted(a.source for a in articles)
    assert articles[-1].article_id == "sub/a.md#0"
    again, _ = load_corpus(tmp_path)
    assert [a.article_id for a in again] == [a.article_id for a in articles]


def test_load_corpus_missing_folder(tmp_path):
    with pytest.raises(IngestError, match="资料文件夹不存在"):
        load_corpus(tmp_path / "nope")


def test_supported_suffixes():
    assert {".txt", ".pdf", ".md", ".jsonl", ".docx"} <= SUPPORTED_SUFFIXES


def test_yaml_dates_and_plain_dates_agree(tmp_path):
    path = tmp_path / "d.md"
    path.write_text("---\ntitle: 标题\ndate: 2022-10-14 08:30:00\n---\n正文。\n", encoding="utf-8")
    (article,) = load_file(path)
    assert article.date == dt.date(2022, 10, 14).isoformat()
