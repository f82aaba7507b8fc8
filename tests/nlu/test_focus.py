"""The question focus (nlu/focus.py): a story, then a specific question, is that
question; its cues are data (data/nlu/cues.yml)."""

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.loading import load_data

from bot.config import ROOT
from nlu.focus import QuestionFocus
from nlu.intent_classifier import LinearIntentClassifier

CUES = {"ask_materials": ["材料", "资料"], "ask_fee": ["多少钱", "要钱"], "ask_online": ["网上"],
        "ask_department": ["去哪", "办还是"], "ask_bundle": ["办啥", "怎么办"]}


@pytest.fixture()
def focus():
    return QuestionFocus(CUES, markers=["然后", "想问"])


def test_the_question_clause_is_the_last_one(focus):
    assert focus.clause("我老婆上个月生了，出生证明拿到了，要哪些资料") == "要哪些资料"
    # too short to ask anything alone: the clause before it counts too
    assert focus.clause("公司要注销，网上呢") == "公司要注销,网上呢"
    # no punctuation (voice): what follows the last marker
    assert focus.clause("那个新员工就是要办那个就业登记嘛然后要哪些资料啊") == "要哪些资料啊"


def test_one_specific_cue_in_the_question_clause_is_the_focus(focus):
    assert focus.intent("我爸上个月走了，家里乱成一团，销户要哪些材料") == "ask_materials"
    assert focus.intent("新开的公司领发票，要钱不") == "ask_fee"
    assert focus.intent("退休手续在东莞办还是回韶关办") == "ask_department"


def test_no_focus_when_the_story_holds_the_cue_or_the_clause_asks_several(focus):
    assert focus.intent("资料都准备好了，接下来怎么走") is None  # the cue is in the story
    assert focus.intent("网上交材料要多少钱") is None  # three questions at once
    # an overview cue after the specific one: still the overview
    assert focus.intent("退伍回来那笔安置费去哪领要办啥") is None


def test_the_cues_are_read_from_the_data():
    data = load_data(str(ROOT / "data" / "nlu" / "cues.yml"))
    focus = QuestionFocus.from_lookup_tables(data.lookup_tables)
    assert {"ask_materials", "ask_department", "ask_time_limit", "ask_fee", "ask_online"} <= set(focus.cues)
    assert focus.markers
    again = QuestionFocus.from_json(focus.to_json())
    assert again.intent("我们公司招了新人，社保那些能不能在网上弄") == "ask_online"


def test_the_classifier_swaps_the_overview_for_the_focus(tmp_path):
    from sklearn.linear_model import LogisticRegression

    storage = LocalModelStorage(tmp_path)
    classifier = LogisticRegression()
    classifier.classes_ = np.array(["ask_bundle", "ask_fee", "ask_materials"])
    component = LinearIntentClassifier(LinearIntentClassifier.get_default_config(), storage,
                                       Resource("intents"), classifier=classifier,
                                       focus=QuestionFocus(CUES))
    row = np.array([0.7, 0.2, 0.1])
    component._apply_focus("我家宝宝刚出生，我老婆还在医院，接下来办啥，要钱吗", row)
    assert list(row) == [0.2, 0.7, 0.1]  # swapped: still the same distribution
    row = np.array([0.7, 0.2, 0.1])
    component._apply_focus("我家宝宝刚出生，接下来办啥", row)  # no specific cue
    assert list(row) == [0.7, 0.2, 0.1]
    row = np.array([0.2, 0.7, 0.1])
    component._apply_focus("出生证明要哪些资料", row)  # only an overview read is refocused
    assert list(row) == [0.2, 0.7, 0.1]


def test_the_masked_text_is_read_when_the_text_has_no_cue():
    focus = QuestionFocus({"ask_materials": ["Ⓜ吗"], "ask_department": ["Ⓓ能"], "ask_bundle": ["怎么办"]})
    assert focus.intent("我老婆刚生完，要户口本吗", "我老婆刚生完，要Ⓜ吗") == "ask_materials"
    assert focus.intent("老人走了，街道办能办吗", "老人走了，Ⓓ能办吗") == "ask_department"
    assert focus.intent("老人走了，怎么办", "老人走了，怎么办") is None
