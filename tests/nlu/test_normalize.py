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


def test_text_is_capped_inside_the_pipeline_without_splitting_a_token():
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message

    from nlu.normalizer import MAX_TEXT_CHARS, ChineseNormalizer

    component = ChineseNormalizer({}, None, None, N.replacements)
    long = Message(data={TEXT: "孩子出生" * 5000})
    at_edge = Message(data={TEXT: "好" * (MAX_TEXT_CHARS - 5) + "⟪身份证号:k3j9x2m4p7⟫"})
    component.process([long, at_edge])
    assert len(long.get(TEXT)) == MAX_TEXT_CHARS
    assert at_edge.get(TEXT) == "好" * (MAX_TEXT_CHARS - 5)
