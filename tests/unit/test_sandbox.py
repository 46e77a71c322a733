"""Untrusted files are parsed in a child process with limits: bombs cost one failed upload, nothing more."""

from __future__ import annotations

import zlib
from pathlib import Path

import docx
import pytest

from bot.ingest import IngestError
from bot.ingest.sandbox import Limits, load_file_limited

TIGHT = Limits(memory_mb=400, cpu_seconds=10, wall_seconds=20)
ARTICLE = "金乡县推行“3+1”帮带制，每名第一书记联系三户党员，每月走访一次。"


def yaml_alias_bomb(path: Path, depth: int = 9) -> Path:
    lines = ['a0: &a0 ["哈哈哈哈哈哈哈哈"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, depth + 1)]
    path.write_text(f"---\ntitle: *a{depth}\n" + "\n".join(lines) + f"\n---\n\n{ARTICLE}\n", encoding="utf-8")
    return path


def pdf_bomb(path: Path, megabytes: int) -> Path:
    """One page whose content stream inflates from well under 1 MB to `megabytes`."""
    stream = zlib.compress(b" " * (megabytes << 20), 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(out)
    return path


def many_paragraph_docx(path: Path, paragraphs: int) -> Path:
    document = docx.Document()
    document.add_heading("党建引领乡村振兴", 0)
    for i in range(paragraphs):
        document.add_paragraph(f"第{i}段：党员联系群众。")
    document.save(str(path))
    return path


def test_a_valid_file_parses_in_the_child(tmp_path):
    path = tmp_path / "ok.md"
    path.write_text(f"---\ntitle: 帮带制\nplace: 金乡县\n---\n\n{ARTICLE}\n", encoding="utf-8")
    [article] = load_file_limited(path, TIGHT)
    assert (article.title, article.place, article.paragraphs) == ("帮带制", "金乡县", [ARTICLE])


def test_yaml_alias_bomb_is_refused_without_expanding(tmp_path):
    with pytest.raises(IngestError, match="别名"):
        load_file_limited(yaml_alias_bomb(tmp_path / "bomb.md"), TIGHT)


def test_pdf_stream_bomb_hits_the_memory_limit(tmp_path):
    with pytest.raises(IngestError, match="内存超过上限"):
        load_file_limited(pdf_bomb(tmp_path / "bomb.pdf", 600), TIGHT)


def test_a_docx_of_many_short_paragraphs_parses_within_the_cpu_limit(tmp_path):
    """Style lookups per paragraph made this quadratic; within the limit it must now parse whole."""
    path = many_paragraph_docx(tmp_path / "many.docx", 6000)
    [article] = load_file_limited(path, Limits(memory_mb=600, cpu_seconds=8, wall_seconds=20))
    assert article.title == "党建引领乡村振兴" and len(article.paragraphs) == 6000


def test_wall_clock_limit_ends_a_stuck_parse(tmp_path):
    path = tmp_path / "ok.md"
    path.write_text(f"# 标题\n\n{ARTICLE}\n", encoding="utf-8")
    with pytest.raises(IngestError, match="解析超时"):
        load_file_limited(path, Limits(wall_seconds=0.01))
