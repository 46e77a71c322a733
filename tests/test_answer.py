from bot.answer import answer, check_question, mark, pick_sentences, sentence_units
from bot.text import measure_words
from bot.segment import Segmenter

JINXIANG = ("自派驻以来，全县各级第一书记累计走访群众8.6万余户，慰问困难党员群众2356户，新修道路60.9公里，"
            "安装路灯1687盏，有效提升了群众获得感和满意度。同时，建立第一书记日常考核+年度考核的“双考核”评价体系。")


def test_short_lead_in_travels_with_next_sentence():
    units = sentence_units("实行“3+1”帮带制。为每名新任第一书记确定1名原第一书记指导。其余内容在这里展开说明一下，并且给出更多的细节。")
    assert units[0] == "实行“3+1”帮带制。为每名新任第一书记确定1名原第一书记指导。"


def test_count_question_picks_the_sentence_with_the_number():
    picked = pick_sentences("金乡安装了多少盏路灯？", JINXIANG, Segmenter().tokens)
    assert "1687盏" in picked[0]


def test_measure_word_of_the_question_decides_between_numbers():
    assert measure_words("服务队调来了几台收割机？") == {"台"}
    text = "为加快进度，服务队积极协调有关部门调集收割机，确保应收尽收。秋收以来，共协调农用收割机5台，农用机车17辆。"
    assert "5台" in pick_sentences("服务队调来了几台收割机？", text, Segmenter().tokens)[0]


def test_mark_bolds_only_the_answer_in_place():
    pieces = mark("甲句。乙句。丙句。", ["乙句。"])
    assert pieces == [("甲句。", False), ("乙句。", True), ("丙句。", False)]


def test_bad_questions_are_refused_before_search():
    assert check_question("   ", 500) == "empty"
    assert check_question("问" * 501, 500) == "too_long"
    assert check_question("😀🎉👍", 500) == "no_text"
    assert check_question("3+1帮带制？", 500) == ""


def test_answer_quotes_the_answering_sentence_with_citation(seed_searcher):
    result = answer("金乡的第一书记安装了多少盏路灯？", seed_searcher)
    assert not result.abstained
    assert "1687盏" in result.sentences[0]
    assert result.citation.startswith("金乡实行“四制”工作法 打造高素质第一书记队伍 · 金乡")
    assert any(is_answer and "1687盏" in text for text, is_answer in result.segments())


def test_answer_3plus1(seed_searcher):
    result = answer("3+1帮带制是怎么运作的？", seed_searcher)
    assert "1名原第一书记指导" in result.sentences[0]


def test_out_of_corpus_questions_are_refused(seed_searcher):
    for question in ("党费的交纳标准是多少？", "How do I reset the root password on a Linux server?", "苹果手机怎么截屏？"):
        result = answer(question, seed_searcher)
        assert result.abstained and result.reason == "no_match" and not result.sentences, question
