"""The newspaper page-dump parser, on the user's real page and on a synthetic page with other places."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.ingest import load_corpus, load_file, parse_page
from bot.ingest.records import Article
from bot.ingest.text import date_from_filename, normalize_date

SEED = Path(__file__).parents[1] / "data" / "ingest" / "seed_page.txt"

SEED_TITLES = [
    "嘉祥：常态化推动干部监督全覆盖",
    "金乡实行“四制”工作法 打造高素质第一书记队伍",
    "第一书记助力“三秋”生产",
    "党建引领 创新发展“四色”渔业养殖项目",
    "邹城：擂台比武 打造乡村振兴“头雁方阵”",
    "梁山第一书记抓党建“五个突出”促振兴",
]
FURNITURE = ["强化党建统领", "推进双基工作", "●", "政策发布平台", "工作展示窗口", "党员学习园地"]

SYNTHETIC_PAGE = """\
 加强组织建设加强组织建设 服务基层群众服务基层群众

●基层动态
本报兖州讯（记者 王小明）近日，兖州区新驿镇组织开展
“党员进网格”活动，全镇42个村的党员干部深入
网格，走访群众1200余户，收集意见建议86条。

活动中，党员干部围绕环境整治、矛盾调解等重点工作，逐户
登门了解情况，对能够当场解决的问题立即

办理，对需要协调的问题建立台账、限期销号。

兖州新驿：党员进网格
服务零距离

■本报记者 陈晨 通讯员 刘洋

泗水县泉林镇立足当地资源禀赋，发展特色茶叶种植 300 余亩，带动
周边群众增收致富。

镇党委书记表示，下一步将继续扩大种植规模，打造“泉林茶”
区域品牌。

泗水县泉林镇

小茶叶撬动大产业

微山县微山岛镇组织党员志愿者开展湖区环境清理活动。图为
志愿者正在清理岸边垃圾。

■记者 陈晨 摄
"""


@pytest.fixture(scope="module")
def seed() -> list[Article]:
    return load_file(SEED, SEED.parent)


def _articles(items: list[Article]) -> list[Article]:
    return [a for a in items if a.kind == "article"]


def _captions(items: list[Article]) -> list[Article]:
    return [a for a in items if a.kind == "caption"]


def _by_title(items: list[Article], title: str) -> Article:
    return next(a for a in items if a.title == title)


def test_seed_yields_six_articles_in_order_and_two_captions(seed):
    assert [a.title for a in _articles(seed)] == SEED_TITLES
    assert len(_captions(seed)) == 2
    assert len(seed) == 8


def test_seed_paragraph_counts(seed):
    assert [len(a.paragraphs) for a in _articles(seed)] == [5, 6, 4, 6, 6, 7]


def test_seed_places_kickers_and_towns(seed):
    articles = _articles(seed)
    assert [a.place for a in articles] == ["嘉祥", "金乡", "汶上", "曲阜", "邹城", "梁山"]
    baishi = _by_title(seed, "第一书记助力“三秋”生产")
    assert baishi.kicker == "汶上县白石镇"
    assert baishi.meta["town"] == "白石镇"
    qufu = _by_title(seed, "党建引领 创新发展“四色”渔业养殖项目")
    assert qufu.kicker == "曲阜市石门山镇省派“加强农村基层党组织建设”工作队"
    assert qufu.meta["town"] == "石门山镇"
    assert [a.kicker for a in articles if a not in (baishi, qufu)] == ["", "", "", ""]


def test_seed_bylines_and_authors(seed):
    articles = _articles(seed)
    assert [a.byline for a in articles] == [
        "本报嘉祥讯（通讯员 邓金华 徐天翼）",
        "本报金乡讯（通讯员 李鹏昊 李金田）",
        "本报通讯员 吴计建 苏广帅",
        "本报曲阜讯（通讯员 王赫）",
        "本报邹城讯（通讯员 相天雨）",
        "本报梁山讯（通讯员 杨景雪）",
    ]
    assert articles[0].author == "邓金华 徐天翼"
    assert articles[2].author == "吴计建 苏广帅"
    assert articles[0].paragraphs[0].startswith("今年以来，嘉祥县管重点")
    assert articles[5].paragraphs[0].startswith("自派驻以来，梁山县")


def test_seed_captions(seed):
    yutai, rencheng = _captions(seed)
    assert yutai.title == "鱼台县大力实施人才“外引内培”工程"
    assert yutai.place == "鱼台"
    assert yutai.byline == "通讯员 赵恒 张鲁 摄"
    assert yutai.author == "赵恒 张鲁"
    assert len(yutai.paragraphs) == 1 and "图为助企攀登党员干部在企业生产一线" in yutai.paragraphs[0]
    assert rencheng.place == "任城"
    assert rencheng.meta["town"] == "长沟镇"
    assert rencheng.byline == "通讯员 姜效尉 朱新颖 摄"
    assert rencheng.paragraphs == [
        "任城区长沟镇采取“党支部+合作社+农户”的发展模式，以合作社为纽带，把农民组织起来，"
        "依托葡萄种植以及“田园游”“采摘游”，将产业资源转变为资产优势，有效实现了集体经济和农民收入的"
        "“双增收”。图为长沟镇葡萄种植户正在进行葡萄采摘装运工作。"
    ]


def test_seed_jinxiang_paragraphs(seed):
    jinxiang = _by_title(seed, SEED_TITLES[1])
    prefixes = [
        "为进一步激发广大第一书记干事创业的热情",
        "实行“3+1”帮带制。",
        "实行“四个一”工作制。",
        "实行“实绩打擂”晾晒制。",
        "实行“线上+线下”管理制。",
        "自派驻以来，全县各级第一书记",
    ]
    assert len(jinxiang.paragraphs) == len(prefixes)
    assert all(p.startswith(prefix) for p, prefix in zip(jinxiang.paragraphs, prefixes))
    assert all(p.endswith("。") for p in jinxiang.paragraphs)


@pytest.mark.parametrize(
    "joined",
    [
        "形成“一人在村、多方支持”的工作格局。",
        "协助开展村里日常工作",
        "上下班；结合“党建智慧平台”监控",
        "最终评选出3名“头雁领航”村党组织书记",
        "确定当年度“履职承诺”清单",
        "定期召开帮扶项目调度会、推进会，明确时间节点",
        "考核评定，履职考核结果纳入期满考核",
        "全面启用钉钉APP，",
        "建设产业项目100余个",
        "举办技能培训班370余次",
        "文具1003套",
    ],
)
def test_column_breaks_and_wraps_are_rejoined(seed, joined):
    holders = [p for a in seed for p in a.paragraphs if joined in p]
    assert len(holders) == 1


def test_column_break_paragraph_is_one_paragraph(seed):
    jinxiang = _by_title(seed, SEED_TITLES[1])
    (paragraph,) = [p for p in jinxiang.paragraphs if "“一人在村、多方支持”的工作格局" in p]
    assert paragraph.startswith("实行“3+1”帮带制。")
    assert paragraph.endswith("帮助提高适应“水土”的能力。")


def test_no_paragraph_holds_titles_bylines_or_furniture(seed):
    paragraphs = [p for a in seed for p in a.paragraphs]
    for paragraph in paragraphs:
        assert "本报" not in paragraph[:6]
        assert "通讯员" not in paragraph
        assert not any(bit in paragraph for bit in FURNITURE), paragraph
        assert "  " not in paragraph and "\n" not in paragraph
    for title in SEED_TITLES + ["汶上县白石镇", "干部监督全覆盖"]:
        assert not any(p == title or p.endswith(title) for p in paragraphs)
    assert all(a.kicker not in paragraphs for a in seed if a.kicker)


def test_seed_ids_sources_and_date_are_stable(seed):
    again = load_file(SEED, SEED.parent)
    assert [a.article_id for a in seed] == [a.article_id for a in again]
    assert seed[0].article_id == "seed_page.txt#0"
    assert len({a.article_id for a in seed}) == len(seed)
    assert {a.source for a in seed} == {"seed_page.txt"}
    assert {a.date for a in seed} == {""}


def test_synthetic_page_generalises():
    items = parse_page(SYNTHETIC_PAGE, "p2.txt", "2023-05-06")
    articles, captions = _articles(items), _captions(items)
    assert [a.title for a in articles] == ["兖州新驿：党员进网格服务零距离", "小茶叶撬动大产业"]
    first, second = articles
    assert first.place == "兖州" and first.byline == "本报兖州讯（记者 王小明）" and first.author == "王小明"
    assert first.paragraphs == [
        "近日，兖州区新驿镇组织开展“党员进网格”活动，全镇42个村的党员干部深入网格，走访群众1200余户，收集意见建议86条。",
        "活动中，党员干部围绕环境整治、矛盾调解等重点工作，逐户登门了解情况，对能够当场解决的问题立即办理，对需要协调的问题建立台账、限期销号。",
    ]
    assert second.kicker == "泗水县泉林镇" and second.place == "泗水" and second.meta["town"] == "泉林镇"
    assert second.byline == "本报记者 陈晨 通讯员 刘洋" and second.author == "陈晨 刘洋"
    assert second.paragraphs[0] == "泗水县泉林镇立足当地资源禀赋，发展特色茶叶种植300余亩，带动周边群众增收致富。"
    assert len(second.paragraphs) == 2
    (caption,) = captions
    assert caption.place == "微山" and caption.meta["town"] == "微山岛镇"
    assert caption.byline == "记者 陈晨 摄"
    assert caption.paragraphs == ["微山县微山岛镇组织党员志愿者开展湖区环境清理活动。图为志愿者正在清理岸边垃圾。"]
    assert {a.date for a in items} == {"2023-05-06"}
    assert not any("加强组织建设" in p or "基层动态" in p for a in items for p in a.paragraphs)


def test_caption_between_article_paragraphs_does_not_split_the_article():
    page = (
        "本报嘉祥讯（通讯员 张三）第一段正文，内容在栏尾被\n\n"
        "某镇开展志愿服务。图为志愿者在行动。\n\n■通讯员 李四 摄\n\n"
        "截断后继续。\n\n第二段正文。\n\n嘉祥：某项工作见成效\n"
    )
    items = parse_page(page, "x.txt")
    article, caption = _articles(items)[0], _captions(items)[0]
    assert article.paragraphs == ["第一段正文，内容在栏尾被截断后继续。", "第二段正文。"]
    assert caption.paragraphs == ["某镇开展志愿服务。图为志愿者在行动。"]


def test_plain_text_with_title_on_top():
    items = parse_page("乡村振兴的新答卷\n\n第一段，讲了一件事。\n\n第二段，又讲一件事。\n", "plain.txt")
    assert len(items) == 1
    assert items[0].title == "乡村振兴的新答卷"
    assert items[0].paragraphs == ["第一段，讲了一件事。", "第二段，又讲一件事。"]


def test_untitled_text_gets_an_inferred_title():
    (item,) = parse_page("没有标题的一段文字，讲了一件事。\n", "t.txt")
    assert item.title == "没有标题的一段文字"
    assert item.meta["title_inferred"] is True


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2022-10-14_xxx.txt", "2022-10-14"),
        ("page_20221014.txt", "2022-10-14"),
        ("jnrb20221014.txt", "2022-10-14"),
        ("000_20fd8c739f8a3408.txt", ""),
        ("a3f20221014b9c8d.txt", ""),
        ("2022-13-40.txt", ""),
    ],
)
def test_date_from_filename(name, expected):
    assert date_from_filename(name) == expected


def test_normalize_date_spellings():
    assert normalize_date("2022年10月14日") == "2022-10-14"
    assert normalize_date("2022/1/5") == "2022-01-05"
    assert normalize_date("not a date") == ""


def test_dated_page_file_in_corpus(tmp_path):
    shutil.copy(SEED, tmp_path / "2022-10-14_page3.txt")
    articles, errors = load_corpus(tmp_path)
    assert errors == []
    assert {a.date for a in articles} == {"2022-10-14"}
    assert articles[0].article_id == "2022-10-14_page3.txt#0"
