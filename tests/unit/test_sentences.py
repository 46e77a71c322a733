import pytest

from bot.retrieval.sentences import opening_heading, opens_with_remark, sentence_units, split_sentences


def test_sentences_keep_closing_punctuation_and_quotes():
    assert split_sentences("他说：“好。”然后走了！最后；") == ["他说：“好。”", "然后走了！", "最后；"]


def test_short_lead_in_travels_with_next_sentence():
    units = sentence_units(
        "实行“3+1”帮带制。为每名新任第一书记确定1名原第一书记指导。其余内容在这里展开说明一下，并且给出更多的细节。"
    )
    assert units[0] == "实行“3+1”帮带制。为每名新任第一书记确定1名原第一书记指导。"
    assert len(units) == 2


def test_trailing_short_sentence_joins_the_last_unit():
    assert sentence_units("这是一个足够长的句子，用来说明具体的做法和成效。好。") == [
        "这是一个足够长的句子，用来说明具体的做法和成效。好。"
    ]


def test_opening_heading_frames_a_passage_of_several_units():
    text = "定期总结，“月度述职”抓推进。镇街党委每月组织村党组织书记进行述职，并提出意见建议。丰富述职形式，可将述职地点放在项目现场、田间地头。"
    assert opening_heading(text) == "定期总结，“月度述职”抓推进。"
    assert opening_heading("实行“3+1”帮带制。为每名新任第一书记确定1名原第一书记指导。") == ""
    assert opening_heading("这是一个足够长的句子，用来说明具体的做法和成效。") == ""


@pytest.mark.parametrize(
    ("text", "remark"),
    [
        ("“分数挂在墙上，谁也不好意思落后。”明星村党支部书记李哲说，推行积分制以来出勤率提高了。", True),
        ("“以前村里的收入主要靠上级补助。”大围山镇楚东村党总支书记刘志刚表示。", True),
        ("今年以来，安吉县在农村推广“积分超市”，村民参加垃圾分类可获得积分。", False),
        ("“四议”即村党组织提议、村“两委”会议商议、党员大会审议。", False),  # a quoted name, nobody speaks
    ],
)
def test_a_paragraph_opening_with_someones_words_is_a_remark(text: str, remark: bool) -> None:
    assert opens_with_remark(text) is remark
