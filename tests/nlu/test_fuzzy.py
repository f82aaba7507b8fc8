"""Typo correction by pronunciation and shape (nlu.fuzzy), proven on typos that are
in no table: they are made here, from the knowledge base's own words."""

import random
from functools import lru_cache
from pathlib import Path

import pytest
from pypinyin import Style, lazy_pinyin, pinyin

from nlu.fuzzy import FuzzyCorrector, ShapeGroups, fuzzy_syllable
from nlu.normalize import Normalizer, general_frequency, load_shape_groups, load_table

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "data" / "normalization.yml"


@lru_cache(maxsize=1)
def training():
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.nlu_export import export

    export()
    return load_data(str(ROOT / "data" / "nlu"))


@lru_cache(maxsize=1)
def normalizer() -> Normalizer:
    from nlu.normalizer import ChineseNormalizer

    table = load_table(TABLE)
    plain, shapes = Normalizer(table), load_shape_groups(TABLE)
    vocabulary = ChineseNormalizer._vocabulary(training(), plain)
    kept = ChineseNormalizer._kept_forms(training(), plain, vocabulary, shapes)
    return Normalizer(table, vocabulary, shapes, kept=kept)


@pytest.mark.parametrize(("a", "b"), [
    ("zhi", "zi"), ("chu", "cu"), ("shi", "si"), ("nan", "lan"), ("xin", "xing"),
    ("shen", "sheng"), ("fan", "huan"), ("an", "ang"), ("fang", "huang"), ("fu", "hu"),
    ("fei", "hui"),
])
def test_southern_confusions_sound_alike(a, b):
    assert fuzzy_syllable(a) == fuzzy_syllable(b)


@pytest.mark.parametrize(("a", "b"), [("zhi", "ji"), ("shi", "xi"), ("lan", "nian")])
def test_other_syllables_stay_apart(a, b):
    assert fuzzy_syllable(a) != fuzzy_syllable(b)


def test_one_slip_is_corrected_and_real_words_are_kept():
    c = FuzzyCorrector(["社保", "营业执照", "火化证明"], ShapeGroups(["口囗"]),
                       frequency=general_frequency)
    assert c.correct("社宝怎么交") == "社保怎么交"
    assert c.correct("营业职照") == "营业执照"
    assert c.correct("火花证明在哪开") == "火化证明在哪开"
    assert c.correct("放了一场火花") == "放了一场火花"  # 火花 alone is a word, not a slip


def test_shape_slips():
    n = normalizer()
    assert n("户囗怎么上") == "户口怎么上"


@lru_cache(maxsize=1)
def homophones() -> dict[str, list[str]]:
    """Common characters by toneless syllable (Jieba's single-character counts)."""
    import jieba

    jieba.dt.check_initialized()
    out: dict[str, list[str]] = {}
    for word, freq in jieba.dt.FREQ.items():
        if len(word) == 1 and "\u4e00" <= word <= "\u9fff" and freq >= 2000:
            for s in pinyin(word, style=Style.NORMAL)[0]:
                out.setdefault(s, []).append(word)
    return out


def made_typos(n: int = 200, seed: int = 7) -> list[tuple[str, str]]:
    """(typed, meant): a knowledge-base name with one character swapped for another
    common character read the same way, the way a pinyin keyboard slips."""
    from bot.kb.loader import load_knowledge_base

    words = set()
    for b in load_knowledge_base().bundles:
        words.update(w for w in b.synonyms if 3 <= len(w) <= 6)
        for it in b.items:
            words.update(w for w in it.aliases if 3 <= len(w) <= 6)
    table = load_table(TABLE)
    words = sorted(w for w in words if all("\u4e00" <= c <= "\u9fff" for c in w)
                   and not any(k in w for k in table))
    rng = random.Random(seed)
    out = []
    for word in rng.sample(words, min(n, len(words))):
        j = rng.randrange(len(word))
        sound = lazy_pinyin(word, style=Style.NORMAL)[j]
        others = [c for c in homophones().get(sound, []) if c != word[j]]
        if others:
            typed = word[:j] + rng.choice(others) + word[j + 1:]
            if typed not in table:
                out.append((typed, word))
    return out


def test_made_typos_are_corrected():
    typos = made_typos()
    assert len(typos) >= 60
    n = normalizer()
    fixed = [meant in n(f"请问{typed}要怎么办") for typed, meant in typos]
    assert sum(fixed) / len(fixed) >= 0.7, [t for t, ok in zip(typos, fixed, strict=True) if not ok]


# Files whose header says they hold citizens' messages as typed, deliberate slips,
# Cantonese and traditional characters included: correcting them is the point.
AS_TYPED = "citizens_*.yml"


@lru_cache(maxsize=1)
def clean_texts() -> list[str]:
    """The training texts of the curated files (written in clean Mandarin)."""
    from rasa.shared.nlu.training_data.loading import load_data

    training()  # exports data/nlu/generated
    as_typed = set((ROOT / "data" / "nlu").rglob(AS_TYPED))
    texts = []
    for path in sorted((ROOT / "data" / "nlu").rglob("*.yml")):
        if path not in as_typed:
            texts += [m.get("text") for m in load_data(str(path)).training_examples if m.get("text")]
    return texts


def test_clean_training_texts_are_almost_never_changed():
    plain = Normalizer(load_table(TABLE))
    n = normalizer()
    texts = clean_texts()
    changed = [t for t in texts if n(t) != plain(t)]
    assert len(changed) / len(texts) <= 0.01, changed[:20]


def test_a_slip_joins_a_word_it_does_not_swap_one():
    """买厂房 is 买 + 厂房: 卖厂房 is another deal, not a slip; 火花证明 still is one."""
    from nlu.normalize import general_words

    c = FuzzyCorrector(["买厂房", "取公积金", "火化证明"], frequency=general_frequency,
                       segment=general_words)
    assert c.correct("公司卖厂房过户") == "公司卖厂房过户"
    assert c.correct("去公积金中心") == "去公积金中心"
    assert c.correct("火花证明在哪开") == "火化证明在哪开"


def test_forms_our_messages_use_more_than_the_word_they_resemble_are_kept():
    c = FuzzyCorrector(["监事"], frequency=general_frequency)
    assert c.correct("13件事是哪些") == "13监事是哪些"  # sounds like it, nothing says otherwise
    kept = FuzzyCorrector(["监事"], frequency=general_frequency, kept=["件事"])
    assert kept.correct("13件事是哪些") == "13件事是哪些"


def test_kept_forms_are_mined_from_the_training_messages():
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from nlu.normalizer import ChineseNormalizer

    texts = ["一件事包括什么", "出生一件事", "这件事怎么办", "监事要签字吗"]
    data = TrainingData(training_examples=[Message(data={"text": t, "intent": "x"}) for t in texts])
    kept = ChineseNormalizer._kept_forms(data, Normalizer({}), ["监事"], [])
    assert "件事" in kept
