"""Property-based fuzzing of every ingest reader: any input ends as articles or an IngestError, never another
exception, within a time budget per input (hypothesis's deadline) and a memory budget (tracemalloc's peak).

Text formats get generated text around real structure (front matter, JSON lines, page furniture); binary
formats get byte mutations of a small valid file, the way a damaged download looks.
"""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reportlab.pdfgen import canvas

from bot.ingest import IngestError, load_file
from bot.ingest.places import gazetteer
from bot.ingest.records import Article

MEMORY_BUDGET = 64 * 1024 * 1024
gazetteer().find("今年以来，沂水县推行积分超市")  # loads the gazetteer and jieba once: no one input's cost
FUZZ = settings(max_examples=60, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture])
HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
TEXTISH = st.text(
    alphabet=st.one_of(HAN, st.sampled_from("。，！？；：“”（）、 \n\t.!?-#*>&:[]{}\"'"), st.characters())
)


def parse_within_budget(path: Path) -> list[Article] | IngestError:
    tracemalloc.start()
    try:
        return load_file(path)
    except IngestError as exc:
        return exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MEMORY_BUDGET, f"{path.name}: {peak / 1e6:.0f} MB"


OUTCOME = "只得到文章，或带中文原因的 IngestError；每个输入限时 3 秒、内存峰值 64 MB 以内"


def check(outcome: list[Article] | IngestError) -> None:
    if isinstance(outcome, IngestError):
        assert outcome.reason and any("\u4e00" <= c <= "\u9fff" for c in outcome.reason)  # told in Chinese
        return
    assert outcome, "a file that parses has at least one article"
    for article in outcome:
        assert article.title and article.paragraphs and all(p.strip() for p in article.paragraphs)


@FUZZ
@given(
    front=st.dictionaries(st.sampled_from(["title", "date", "place", "author", "source", "x"]), TEXTISH), body=TEXTISH
)
def test_markdown(tmp_path_factory, record, front, body):
    path = tmp_path_factory.mktemp("md") / "a.md"
    header = "".join(f"{key}: {json.dumps(value, ensure_ascii=False)}\n" for key, value in front.items())
    path.write_text(f"---\n{header}---\n\n{body}", encoding="utf-8", errors="surrogatepass")
    check(parse_within_budget(path))
    record("模糊测试 Markdown（随机 YAML 头与正文）", OUTCOME)


@FUZZ
@given(rows=st.lists(st.one_of(TEXTISH, st.dictionaries(st.sampled_from(["title", "text", "date", "place"]), TEXTISH))))
def test_jsonl(tmp_path_factory, record, rows):
    path = tmp_path_factory.mktemp("jsonl") / "a.jsonl"
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    check(parse_within_budget(path))
    record("模糊测试 JSONL（随机行与字段）", OUTCOME)


@FUZZ
@given(
    lines=st.lists(
        st.one_of(TEXTISH, st.sampled_from(["●政策发布平台", "本报嘉祥讯（通讯员 张三）", "图为", "■记者 李四"]))
    )
)
def test_newspaper_page(tmp_path_factory, record, lines):
    path = tmp_path_factory.mktemp("txt") / "20240101_page.txt"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    check(parse_within_budget(path))
    record("模糊测试报纸版面 .txt（随机行与版面元素）", OUTCOME)


def _valid_docx() -> bytes:
    document = docx.Document()
    document.add_heading("积分超市兑出文明新风", 0)
    for i in range(5):
        document.add_paragraph(f"第{i}段：党员参加志愿服务可以积分，每月兑换一次生活用品。")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _valid_pdf() -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, "Party building page 2024")
    page.save()
    return buffer.getvalue()


SEEDS = {".docx": _valid_docx(), ".pdf": _valid_pdf()}


@pytest.mark.parametrize("suffix", sorted(SEEDS))
@FUZZ
@given(data=st.data())
def test_binary_formats_under_byte_mutation(tmp_path_factory, record, suffix, data):
    raw = bytearray(SEEDS[suffix])
    for _ in range(data.draw(st.integers(1, 20))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path_factory.mktemp("bin") / f"a{suffix}"
    path.write_bytes(bytes(raw))
    check(parse_within_budget(path))
    record(f"模糊测试 {suffix}（合法文件的随机字节变异与截断）", OUTCOME)
