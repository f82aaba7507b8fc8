"""Normalisation: one written form per meaning, with offsets kept."""

from pathlib import Path

import pytest

from nlu.gazetteer import Gazetteer
from nlu.normalize import Normalizer, load_table

ROOT = Path(__file__).resolve().parents[2]
N = Normalizer.from_file(ROOT / "data" / "normalization.yml")


@pytest.mark.parametrize(("raw", "expected"), [
    ("孩子出生要辦什麼", "孩子出生要办什么"),
    ("BB出世要搞咩手續", "宝宝出生要办什么手续"),
    ("ＢＢ出世纸喺边度攞？", "宝宝出生证在哪里拿?"),
    ("營業職照點樣攞", "营业执照怎么拿"),
    ("我老豆過身咗", "我爸爸去世了"),
    ("点样注测公司", "怎么注册公司"),
    ("退修手续", "退休手续"),
    ("系统出错", "系统出错"),  # no replacement inside ordinary Mandarin
])
def test_normalize(raw, expected):
    assert N(raw) == expected


def test_offsets_follow_replacements():
    raw = "我老豆過身咗要辦咩"
    result = N.normalize(raw)
    start, end = result.span(1, 3)  # 老豆
    assert result.text[start:end] == "爸爸"
    start, end = result.span(3, 6)  # 過身咗
    assert result.text[start:end] == "去世了"
    assert result.span(0, len(raw)) == (0, len(result.text))


def test_offsets_inside_a_replaced_phrase_widen_to_it():
    result = N.normalize("出世纸")  # one phrase → 出生证
    assert result.span(0, 2) == (0, 3)


def test_longest_match_wins():
    n = Normalizer({"出世": "出生", "出世纸": "出生证"})
    assert n("出世纸") == "出生证" and n("出世") == "出生"


def test_table_sections_must_be_mappings(tmp_path):
    bad = tmp_path / "t.yml"
    bad.write_text("cantonese: [a, b]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="cantonese"):
        load_table(bad)


def test_gazetteer_prefers_longest_non_overlapping():
    g = Gazetteer([("出生", "bundle", "newborn"), ("出生医学证明", "item", "newborn.birth_medical_certificate"),
                   ("医学", "bundle", "x")])
    found = g.find("出生医学证明在哪开")
    assert [(m.kind, m.target, m.start, m.end) for m in found] == [
        ("item", "newborn.birth_medical_certificate", 0, 6)]


@pytest.mark.parametrize("token", ["⟪身份证号:k3bb2m4p7a⟫", "⟪手机号:bbbbbbbbbb⟫", "⟪身份证号:zzbb0bb0bb⟫"])
def test_vault_tokens_are_copied_verbatim(token):
    """"bb" is in the table (→ 宝宝), and tokens are random letters: a token with "bb"
    in it must reach the action server as it was, or it can never be resolved."""
    assert "bb" in N.replacements
    result = N.normalize(f"我的身份证是{token}，BB出世")
    assert result.text == f"我的身份证是{token},宝宝出生"
    start = len("我的身份证是")
    assert result.span(start, start + len(token)) == (start, start + len(token))


def test_vault_tokens_are_copied_verbatim_among_words():
    # the table maps bb → 宝宝 and lower-cases ASCII: neither may touch a token
    for token in ("⟪身份证号:k3j9X2m4p7⟫", "⟪手机号:bb9Bb2m4p7⟫", "⟪身份证号:bbbbbbbbbb⟫"):
        text = f"BB出世，我的证件{token}，电话{token}"
        out = N(text)
        assert out.count(token) == 2, out
        assert out.startswith("宝宝出生")


def test_offsets_around_a_vault_token():
    raw = "我老豆⟪手机号:bb9Bb2m4p7⟫过身咗"
    result = N.normalize(raw)
    start, end = result.span(3, 3 + len("⟪手机号:bb9Bb2m4p7⟫"))
    assert result.text[start:end] == "⟪手机号:bb9Bb2m4p7⟫"


def test_text_length_is_capped():
    n = Normalizer({}, max_length=10)
    raw = "孩子出生要办什么" * 5
    result = n.normalize(raw)
    assert result.text == raw[:10]
    assert result.span(0, len(raw)) == (0, 10)


@pytest.mark.parametrize("text", ["还没有", "材料齐了没有", "有没有人", "办好了没有？"])
def test_no_junk_from_replacements(text):
    assert N(text) == N(N(text)) == text.replace("？", "?")


def test_a_replacement_that_rewrites_itself_is_refused():
    with pytest.raises(ValueError, match="own key"):
        Normalizer({"没": "没有"})


def test_every_replacement_is_stable():
    """Normalising twice changes nothing (a table entry never feeds another)."""
    for key, value in load_table(ROOT / "data" / "normalization.yml").items():
        once = N(key)
        assert N(once) == once, (key, value, once)


@pytest.mark.parametrize(("raw", "expected"), [
    ("衞生許可證", "卫生许可证"),  # Hong Kong variant 衞
    ("綫上辦理", "线上办理"),
    ("裏面", "里面"),
    ("乾淨", "干净"),
    ("著名", "著名"),
])
def test_traditional_and_hong_kong_variants(raw, expected):
    assert N(raw) == expected


def test_english_words_are_whole_words():
    assert N("retirement 要 prepare 咩 documents") == "退休 要 准备 什么 材料"
    assert N("taxi去边度搭") == "taxi去哪里搭"


def test_fillers_are_dropped_but_never_everything():
    assert N("嗯那个那个公司买的厂房") == "公司买的厂房"
    assert N("嗯") == "嗯"
