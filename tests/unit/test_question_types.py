import pytest

from bot.retrieval.question_types import answer_pattern, counted_thing


def test_count_pattern_follows_the_measure_word_of_the_question():
    pattern = answer_pattern("安装了多少盏路灯？")
    assert pattern.search("安装路灯1687盏")
    assert not pattern.search("新修道路60.9公里")
    assert answer_pattern("怎么开展的？") is None


def test_a_year_is_not_a_count_of_years():
    pattern = answer_pattern("第一书记的任期是几年？")
    assert pattern.search("任期2年")
    assert not pattern.search("2021年以来")


def test_answer_pattern_knows_size_frequency_and_year_questions():
    cases = [
        ("金乡第一书记修了多长的路？", "新修道路60.9公里", "组织1次现场观摩"),
        ("梁山为帮扶村硬化了多大面积的地面？", "硬化地面24万平方米", "安装路灯1687盏"),
        ("金乡多长时间组织第一书记去现场看一次？", "每季度组织1次现场观摩", "组织现场观摩"),
        ("乡村振兴战略是哪一年提出的？", "2017年提出", "提出了3年"),
        ("这座古桥建于哪一年？", "始建于1565年", "建成3年"),
        ("金乡多久给第一书记集中培训一回？", "每半年举办1次业务培训", "集中开展业务培训"),
        ("新修的村道有多长？", "新修村道12km", "新修村道"),
        ("公司斥资多少钱建设养殖基地？", "斥资7.7亿美元", "斥资建设"),
        ("代办员每月有多少补贴？", "每月补贴300元", "代办员120名"),
        ("强村公司的注册资本是多少？", "注册资本1000万元", "入股村187个"),
    ]
    for question, fits, does_not in cases:
        pattern = answer_pattern(question)
        assert pattern.search(fits), question
        assert not pattern.search(does_not), question
    assert answer_pattern("3+1帮带制是怎么运作的？") is None


@pytest.mark.parametrize(
    ("question", "fits", "does_not"),
    [
        ("组织部家访一次最少谈多久？", "每次家访不少于40分钟", "成立6个家访组"),
        ("导师多久去新书记村里一趟？", "导师每月至少到村里指导一次", "帮带期限为一年"),
        ("积分超市里一个积分顶几块钱？", "一分相当于一元钱", "货架上摆着30多种商品"),
        ("学员要在多长时间内交心得？", "须在一个月内提交学习心得", "学员分成一个小组"),
        ("物业费每平米收多少？", "每平方米每月只收0.3元物业费", "11个老旧小区"),
        ("物业费能收上来多少？", "物业费收缴率提高到91%", "加装路灯42盏"),
        ("积分超市一般哪天开门换东西？", "每月10日为集中兑换日", "半年攒了320分"),
        ("主题党日固定在每个月哪天？", "每月第一个周五定为主题党日", "每月明确一个学习主题"),
        ("线上学习定在每月啥时候？", "每月最后一个星期六组织线上学习", "每月组织一次线上学习"),
        ("龙胜的积分超市一般啥时候开门？", "积分超市每周六上午开放", "今年以来共兑换物品3200余件"),
        ("汶川第一书记一年里驻村天数有啥硬要求？", "第一书记每年驻村不少于220天", "任期两年"),
        ("比武现场的参会人数有多少？", "到场的党员群众共320人", "比武设置三个环节"),
    ],
)
def test_answer_types_of_duration_frequency_fees_days_and_counts_as_nouns(
    question: str, fits: str, does_not: str
) -> None:
    pattern = answer_pattern(question)
    assert pattern.search(fits)
    assert not pattern.search(does_not)


def test_a_fee_may_be_answered_by_a_share_but_a_wage_only_by_money():
    assert not answer_pattern("网格员一个月工资拿多少？").search("收缴率提高到91%")
    assert answer_pattern("免费代办了多少件？").search("代办30件")


@pytest.mark.parametrize(
    ("question", "thing"),
    [
        ("果园里摘了多少苹果？", ("苹果",)),
        ("社区推了多少个党员楼栋长？", ("个党员楼栋长", "党员楼栋长")),
        ("一天最少要跑几户？", ()),
        ("评委一共几个人？", ()),
        ("都设在哪几个地方？", ()),
    ],
)
def test_counted_thing_is_what_follows_how_many(question: str, thing: tuple[str, ...]) -> None:
    assert counted_thing(question) == thing


def test_money_words_ask_for_money_unless_something_else_is_counted():
    assert answer_pattern("补贴发放了几次？").search("发放补贴3次")
    assert not answer_pattern("补贴发放了几次？").search("补贴300元")


def test_which_ones_is_not_a_count():
    assert answer_pattern("梁山的示范村有哪几个？") is None
    assert answer_pattern("梁山有几个示范村？") is not None


def test_countable_questions_accept_kindred_classifiers_but_units_stay_strict():
    assert answer_pattern("规范提升了多少家合作社？").search("规范提升党支部领办合作社102个")
    assert answer_pattern("治理了多少个坑塘？").search("治理坑塘58处")
    assert not answer_pattern("种了多少亩玉米？").search("玉米地12个")


def test_how_many_people_is_answered_by_a_count_of_people():
    people = answer_pattern("腾冲村支书擂台比武的评委一共几个人？")
    assert all(people.search(t) for t in ("由7名评委打分", "评委共12人", "去了3个人", "十一位代表"))
    assert not any(people.search(t) for t in ("比武设置三个环节", "一位群众代表说", "一名老党员告诉记者"))
    assert answer_pattern("有几个村、几个人参加？").search("共5个村")  # 个 still counts the villages


def test_data_and_digits_are_not_counts_asked():
    assert answer_pattern("这次数据是怎么统计的？") is None
    assert answer_pattern("积分超市啥时候建起来的？") is None
