from bot.retrieval.answer import answer, check_question, mark, pick_sentences
from bot.retrieval.question_types import answer_pattern, measure_words
from bot.retrieval.segment import Segmenter

JINXIANG = (
    "自派驻以来，全县各级第一书记累计走访群众8.6万余户，慰问困难党员群众2356户，新修道路60.9公里，"
    "安装路灯1687盏，有效提升了群众获得感和满意度。同时，建立第一书记日常考核+年度考核的“双考核”评价体系。"
)


def test_count_question_picks_the_sentence_with_the_number():
    picked = pick_sentences("金乡安装了多少盏路灯？", JINXIANG, Segmenter().tokens)
    assert "1687盏" in picked[0]


def test_measure_word_of_the_question_decides_between_numbers():
    assert measure_words("服务队调来了几台收割机？") == {"台", "个"}
    text = "为加快进度，服务队积极协调有关部门调集收割机，确保应收尽收。秋收以来，共协调农用收割机5台，农用机车17辆。"
    assert "5台" in pick_sentences("服务队调来了几台收割机？", text, Segmenter().tokens)[0]


def test_only_a_sentence_with_the_asked_count_answers_a_count_question():
    text = (
        "白石镇第一书记们纷纷走进田间地头，帮助开展秋收工作，与群众干在一起。"
        "截至目前，共开展培训课堂13次，现场解决群众生产相关问题50余个，为群众提供了技术帮助。"
    )
    question = "白石镇第一书记在田间地头帮群众解决了多少个秋收难题？"
    picked = pick_sentences(question, text, Segmenter().tokens, cosines=[0.93, 0.90])
    assert "50余个" in picked[0]
    assert all(answer_pattern(question).search(p) for p in picked)


def test_of_two_counts_the_sentence_naming_what_is_counted_answers():
    text = (
        "9月25日上午，丁泉村党支部的主题党日安排在村南的果园里。"
        "24名党员先学习了一段党的创新理论，随后帮助脱贫户采摘装箱，一上午摘下苹果1.6万斤。"
    )
    picked = pick_sentences("丁泉村党员主题党日去果园摘了多少苹果？", text, Segmenter().tokens, cosines=[0.93, 0.90])
    assert "1.6万斤" in picked[0]


def test_sentence_cosines_break_lexical_ties():
    text = (
        "实行“3+1”帮带制。为每名新任第一书记确定1名镇街科级干部联系，形成多方支持的工作格局。"
        "所帮扶镇街科级干部担任“村级导师”，传授农村工作经验，协助开展村里日常工作。"
    )
    question = "给新任第一书记联系的镇街科级干部起什么作用？"
    assert "1名镇街科级干部联系" in pick_sentences(question, text, Segmenter().tokens)[0]
    picked = pick_sentences(question, text, Segmenter().tokens, cosines=[0.86, 0.89])
    assert "传授农村工作经验" in picked[0]


def test_cosines_that_do_not_fit_the_units_are_ignored():
    picked = pick_sentences("金乡安装了多少盏路灯？", JINXIANG, Segmenter().tokens, cosines=[0.9])
    assert "1687盏" in picked[0]


def test_heading_words_do_not_pick_the_heading_unit():
    text = "重点管住“关键少数”。注重示范作用，加强同级监督和上级监督。由组织人事分管负责人对党政正职进行监督，发现问题及时报告。"
    picked = pick_sentences("管住关键少数由谁负责？", text, Segmenter().tokens)
    assert picked[0].startswith("由组织人事分管负责人")


def test_photo_caption_answers_only_when_nothing_else_can():
    text = (
        "长沟镇采取“党支部+合作社+农户”的发展模式，以合作社为纽带，依托葡萄种植带动增收。"
        "图为长沟镇葡萄种植户正在进行葡萄采摘装运工作。"
    )
    assert pick_sentences("长沟镇的葡萄产业靠什么发展？", text, Segmenter().tokens, cosines=[0.90, 0.93])[0].startswith(
        "长沟镇采取"
    )
    assert pick_sentences("图片上是谁？", "图为长沟镇葡萄种植户正在进行葡萄采摘装运工作。", Segmenter().tokens)


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
    for question in (
        "党费的交纳标准是多少？",
        "How do I reset the root password on a Linux server?",
        "苹果手机怎么截屏？",
    ):
        result = answer(question, seed_searcher)
        assert result.abstained and result.reason == "no_match" and not result.sentences, question
