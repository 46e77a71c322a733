"""Text helpers shared by every reader, so all formats clean Chinese text, bylines, places and dates the same way."""

from __future__ import annotations

import codecs
import datetime as dt
import re
from pathlib import Path

import charset_normalizer

from bot.ingest.records import IngestError

_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\u2018-\u201d\u2026\u2014\u00b7"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"

_SPACE_RUN = re.compile(r"\s+")
_HAN_CHAR = re.compile(f"[{_HAN}]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LEGACY = ("gb18030", "big5", "utf_16_le", "utf_16_be")
MIN_HAN_SHARE = 0.2
_GAP_CJK_ANY = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}A-Za-z0-9])|(?<=[A-Za-z0-9]) (?=[{_CJK}])")
_GAP_CJK_ALNUM = re.compile(rf"(?<=[{_CJK}]) (?=[A-Za-z0-9])|(?<=[A-Za-z0-9]) (?=[{_CJK}])")
_SENTENCE_END = re.compile(r"[。！？!?…；;][”’\"'」』）)]*$")
_CLAUSE_END = re.compile(r"[，。；！？,;!?]")

_ROLE = r"(?:本报)?(?:特约|见习)?(?:通讯员|记者)"
INLINE_BYLINE = re.compile(rf"^本报(?P<place>[^\s（(）)]{{0,6}}?)讯[（(](?P<inner>[^）)]*{_ROLE}[^）)]*)[）)]")
MARKED_BYLINE = re.compile(rf"^■\s*{_ROLE}[\s:：]*\S.{{0,40}}$")
PHOTO_CREDIT = re.compile(rf"^(?:■\s*{_ROLE}[\s:：]*|{_ROLE}[\s:：]+)\S.{{0,30}}?摄$")
_ROLE_WORDS = re.compile(rf"{_ROLE}|^■|摄$|[:：]")

_ADMIN = re.compile(
    rf"^(?:[{_HAN}]{{2,3}}?省)?(?:[{_HAN}]{{2,3}}?市(?=[{_HAN}]{{2,3}}?[县区市]))?"
    rf"(?P<county>[{_HAN}]{{2,3}}?)[县区市](?:(?P<town>[{_HAN}]{{2,4}}?(?:镇|乡|街道)))?"
)
_COLON_PREFIX = re.compile(rf"^(?P<name>[{_HAN}]{{2,3}})[：:]")
_COUNTY_SUFFIX = re.compile(r"(?<=..)[县区市]$")

_DATE_PARTS = re.compile(r"(?<!\d)(\d{4})\s*[-/._年]\s*(\d{1,2})\s*[-/._月]\s*(\d{1,2})(?!\d)")
_DATE_COMPACT = re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)")
_HASH_TOKEN = re.compile(r"[0-9a-f]{12,}", re.IGNORECASE)


def read_text(path: Path, source: str) -> str:
    """UTF-8 first; UTF-16 and the Chinese legacy encodings (GBK/GB18030, Big5) by detection, since Windows
    editors still save them; anything else is reported instead of indexed as garbage."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(source, f"无法读取文件：{exc.strerror or exc}") from exc
    if not data.strip():
        raise IngestError(source, "文件是空的")
    text = _decode(data)
    if text is None:
        raise IngestError(source, "无法识别文字编码（支持 UTF-8、UTF-16、GBK/GB18030、Big5），可能是二进制文件")
    return _CONTROL.sub("", text)


def _decode(data: bytes) -> str | None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(data, cp_isolation=list(_LEGACY)).best()
        return str(best) if best is not None and best.encoding in _LEGACY else None
    if "\x00" in text:  # UTF-16 without a byte order mark decodes as UTF-8 full of NULs
        best = charset_normalizer.from_bytes(data, cp_isolation=["utf_16_le", "utf_16_be"]).best()
        return str(best) if best is not None and "\x00" not in str(best) else None
    return text


def check_chinese(text: str, source: str) -> None:
    """The corpus is Chinese newspaper text: a file of Latin letters, digits or symbols is not an article."""
    visible = [c for c in text if not c.isspace()]
    han = sum(1 for c in visible if _HAN_CHAR.match(c))
    if not visible or han < MIN_HAN_SHARE * len(visible):
        share = han / len(visible) if visible else 0.0
        raise IngestError(source, f"不像中文文章：汉字只占 {share:.0%}（至少要 {MIN_HAN_SHARE:.0%}）")


def join_lines(lines: list[str]) -> str:
    """Undo hard line wraps: Chinese joins directly, only two Latin words get the space the wrap swallowed."""
    out = ""
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if out and _needs_space(out[-1], line[0]):
            out += " "
        out += line
    return out


def _needs_space(left: str, right: str) -> bool:
    return (
        left.isascii()
        and right.isascii()
        and left.isalnum()
        and right.isalnum()
        and not (left.isdigit() and right.isdigit())
    )


def clean_paragraph(text: str) -> str:
    """Drop the spaces PDF extraction puts inside Chinese prose (`项目 100 余个`), keeping Latin word gaps."""
    return _GAP_CJK_ANY.sub("", _SPACE_RUN.sub(" ", text)).strip()


def clean_title(text: str) -> str:
    """Titles keep deliberate gaps between Chinese phrases (`党建引领 创新发展`) but not CJK–digit gaps."""
    return _GAP_CJK_ALNUM.sub("", _SPACE_RUN.sub(" ", text)).strip()


def split_paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks, unwrapped but not yet cleaned, so a leading byline keeps its name spaces."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    paragraphs = (join_lines(block.splitlines()) for block in blocks)
    return [p for p in paragraphs if p]


def ends_sentence(text: str) -> bool:
    """A block ending mid-sentence was cut by a column break and continues in the next block."""
    return bool(_SENTENCE_END.search(text.rstrip()))


def first_clause(text: str, limit: int = 30) -> str:
    """A short stand-in title for items that have none (photo captions, untitled articles)."""
    clause = _CLAUSE_END.split(text, maxsplit=1)[0].strip() or _CLAUSE_END.sub("", text).strip()
    return clause[:limit]


def split_byline(text: str) -> tuple[str, str, str]:
    """`本报嘉祥讯（通讯员 …）正文` → (byline, place, rest) so no paragraph keeps the dateline."""
    match = INLINE_BYLINE.match(text.strip())
    if not match:
        return "", "", text
    place = _COUNTY_SUFFIX.sub("", match["place"])
    return match.group(0), place, text.strip()[match.end() :].strip()


def byline_author(byline: str) -> str:
    """Names only, so the author field can be shown or filtered without the role words."""
    inner = byline
    match = INLINE_BYLINE.match(byline)
    if match:
        inner = match["inner"]
    return " ".join(_ROLE_WORDS.sub(" ", inner).split())


def derive_place(texts: list[str], known: frozenset[str] = frozenset()) -> tuple[str, str]:
    """(county, town) from the start of a kicker/title/caption: `汶上县白石镇` → (汶上, 白石镇), `嘉祥：…` → 嘉祥 if known."""
    for text in texts:
        match = _ADMIN.match(text)
        if match:
            return match["county"], match["town"] or ""
    for text in texts:
        match = _COLON_PREFIX.match(text)
        if match and match["name"] in known:
            return match["name"], ""
        prefix = next((name for name in known if text.startswith(name)), "")
        if prefix:
            return prefix, ""
    return "", ""


def normalize_date(value: object) -> str:
    """ISO `YYYY-MM-DD` from a date object or common Chinese/ISO spellings; "" when it is not a real date."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None:
        return ""
    text = str(value).strip()
    match = _DATE_PARTS.search(text) or _DATE_COMPACT.search(text)
    return _valid_date(*match.groups()) if match else ""


def date_from_filename(name: str) -> str:
    """Newspaper dumps are often named after their issue date; a hex hash that happens to contain digits is not a date."""
    stem = Path(name).stem
    match = _DATE_PARTS.search(stem)
    if match:
        return _valid_date(*match.groups())
    for token in re.split(r"[^0-9A-Za-z]+", stem):
        if _HASH_TOKEN.fullmatch(token):
            continue
        match = _DATE_COMPACT.search(token)
        if match and _valid_date(*match.groups()):
            return _valid_date(*match.groups())
    return ""


def _valid_date(year: str, month: str, day: str) -> str:
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return ""
