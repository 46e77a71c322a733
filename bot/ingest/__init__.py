"""Turn the files of a corpus folder into `Article` records, whatever their format.

`load_file` is strict (any problem raises `IngestError`); `load_corpus` is lenient: a broken
file or a bad JSONL line is reported and everything else still loads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.ingest.corpus_files import corpus_files
from bot.ingest.docx import read_docx
from bot.ingest.jsonl import read_jsonl
from bot.ingest.markdown import read_markdown
from bot.ingest.newspaper import parse_page, read_newspaper
from bot.ingest.pdf import read_pdf
from bot.ingest.places import locate
from bot.ingest.records import Article, IngestError

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Article",
    "IngestError",
    "load_corpus",
    "load_file",
    "parse_page",
    "read_file",
]

Reader = Callable[[Path, str], tuple[list[Article], list[IngestError]]]


def _whole(reader: Callable[[Path, str], list[Article]]) -> Reader:
    return lambda path, source: (reader(path, source), [])


_READERS: dict[str, Reader] = {
    ".txt": _whole(read_newspaper),
    ".pdf": _whole(read_pdf),
    ".md": _whole(read_markdown),
    ".markdown": _whole(read_markdown),
    ".jsonl": read_jsonl,
    ".docx": _whole(read_docx),
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_READERS)


def _source_name(path: Path, corpus_root: Path | None) -> str:
    """Path relative to the corpus folder, so ids and citations survive moving the corpus."""
    if corpus_root is not None:
        try:
            return path.resolve().relative_to(corpus_root.resolve()).as_posix()
        except ValueError:
            pass
    return path.name


def read_file(path: Path, corpus_root: Path | None = None) -> tuple[list[Article], list[IngestError]]:
    """Lenient read: whole-file problems raise, per-record problems (JSONL lines) come back as errors."""
    source = _source_name(path, corpus_root)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise IngestError(source, f"不支持的文件类型 {path.suffix or '（无扩展名）'}")
    if not path.is_file():
        raise IngestError(source, "不是文件")
    try:
        articles, errors = reader(path, source)
    except (IngestError, MemoryError):
        raise
    except Exception as exc:  # a reader library choking on one odd file must not stop the whole corpus
        raise IngestError(source, f"无法解析（{type(exc).__name__}: {exc}）") from exc
    if not articles and not errors:
        raise IngestError(source, "没有找到文章")
    return [locate(a) for a in articles], errors


def load_file(path: Path, corpus_root: Path | None = None) -> list[Article]:
    """Strict read of one file: raises IngestError if it is broken, empty, unknown or has any bad record."""
    articles, errors = read_file(path, corpus_root)
    if errors:
        raise errors[0]
    return articles


def load_corpus(corpus_dir: Path) -> tuple[list[Article], list[IngestError]]:
    """Everything readable under corpus_dir, plus one IngestError per file (or JSONL line) that was not."""
    if not corpus_dir.is_dir():
        raise IngestError(str(corpus_dir), "资料文件夹不存在")
    articles: list[Article] = []
    errors: list[IngestError] = []
    for path in corpus_files(corpus_dir):
        try:
            found, problems = read_file(path, corpus_dir)
        except IngestError as exc:
            errors.append(exc)
            continue
        articles.extend(found)
        errors.extend(problems)
    return articles, errors
