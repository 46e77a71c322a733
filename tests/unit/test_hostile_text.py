"""Unlucky or hostile text files: legacy encodings decode, non-articles and absurd fields are refused."""

from __future__ import annotations

import json
import random
import string

import pytest

from bot.ingest import IngestError, load_file
from bot.ingest.corpus_files import safe_filename
from bot.retrieval.passages import MAX_CHARS, build_passages
from bot.retrieval.sentences import split_sentences

ARTICLE = "金乡县推行“3+1”帮带制，每名第一书记联系三户党员。\n\n今年以来，全县共开展培训课堂13次。\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "gb18030", "gbk"])
def test_legacy_and_utf16_text_decodes(tmp_path, encoding):
    path = tmp_path / "page.md"
    path.write_bytes(f"# 帮带制\n\n{ARTICLE}".encode(encoding))
    [article] = load_file(path)
    assert article.paragraphs[0].startswith("金乡县推行")


def test_random_printable_ascii_is_not_an_article(tmp_path):
    path = tmp_path / "noise.txt"
    rng = random.Random(7)
    path.write_text("".join(rng.choice(string.printable) for _ in range(200_000)), encoding="ascii")
    with pytest.raises(IngestError, match="不像中文文章"):
        load_file(path)


def test_random_bytes_name_the_supported_encodings(tmp_path):
    path = tmp_path / "noise.md"
    path.write_bytes(random.Random(3).randbytes(50_000))
    with pytest.raises(IngestError, match="无法识别文字编码"):
        load_file(path)


def test_absurd_title_is_refused_by_line(tmp_path):
    path = tmp_path / "news.jsonl"
    rows = [{"title": "长" * 4500, "text": ARTICLE}, {"title": "帮带制", "text": ARTICLE}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    with pytest.raises(IngestError, match=r"第 1 行：字段 title 太长（4500 字"):
        load_file(path)


def test_long_paragraph_without_chinese_stops_becomes_bounded_passages(tmp_path):
    sentence = "The county party committee held a review meeting. "
    path = tmp_path / "long.md"
    path.write_text("# 帮带制经验\n\n" + "党员干部" * 400 + sentence * 100 + "\n", encoding="utf-8")
    passages = build_passages(load_file(path))
    assert max(len(p.text) for p in passages) <= MAX_CHARS
    assert "".join(p.text for p in passages).replace(" ", "") == ("党员干部" * 400 + sentence * 100).replace(" ", "")


def test_ascii_full_stops_end_sentences_but_decimals_do_not():
    assert split_sentences("Growth was 3.5 percent. Next year! 全县13次。") == [
        "Growth was 3.5 percent.",
        "Next year!",
        "全县13次。",
    ]


def test_upload_names_are_cut_by_bytes():
    name = safe_filename("\U00020000" * 100 + ".md")
    assert name.endswith(".md") and len(name.encode()) <= 210
