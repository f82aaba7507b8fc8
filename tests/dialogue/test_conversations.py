"""Whole conversations through the real Rasa agent and the real action server."""

import pytest

from bot.db import session_scope
from bot.kb.loader import load_knowledge_base
from bot.kb.seed import seed
from tests.nlu.test_parse import EVERYDAY

KB = load_knowledge_base()
pytestmark = pytest.mark.model


@pytest.mark.parametrize("bundle", KB.bundles, ids=lambda b: b.id)
def test_asking_about_each_bundle_names_every_item_that_may_apply(chat, bundle):
    question = EVERYDAY[bundle.id][0]
    reply = chat.text(question)
    assert bundle.name in reply
    decision = bundle.guide.decide([it.id for it in bundle.items], bundle.guide.infer(question))
    for item in bundle.items:
        if item.id in decision.items:
            assert item.name in reply, f"{item.name} missing from: {reply}"
        else:  # what the citizen said already rules it out
            assert item.name not in reply, f"{item.name} should not be in: {reply}"


def test_follow_ups_keep_the_bundle(chat):
    assert "新生儿出生" in chat.text("宝宝刚出生")
    materials = chat.text("要带什么材料")
    assert "新生儿出生" in materials and "出生医学证明" in materials and "居民身份证" in materials
    online = chat.text("能在手机上办吗")
    assert "新生儿出生" in online and "网" in online
    assert "新生儿出生" in chat.text("要多久")


def test_a_new_bundle_replaces_the_old_one(chat):
    chat.text("孩子出生要办什么")
    reply = chat.text("那办退休要带什么材料")
    assert "企业职工退休" in reply and "新生儿" not in reply


def test_follow_up_without_bundle_asks_which_one(chat):
    messages = chat.say("要带什么材料")
    assert "哪件事" in messages[0]["text"]
    buttons = messages[0]["buttons"]
    assert len(buttons) >= 3
    assert all(b["payload"].startswith(("/ask_materials", "/list_bundles")) for b in buttons)
    # tapping a choice answers the original question
    newborn = next(b for b in buttons if '"newborn"' in b["payload"])
    answer = chat.text(newborn["payload"])
    assert "新生儿出生" in answer and "居民身份证" in answer


def test_item_question_answers_for_that_item(chat):
    reply = chat.text("出生医学证明在哪开")
    assert "出生医学证明" in reply and "省卫生健康委" in reply
    assert "户口" not in reply


def test_item_then_bundle_question_drops_the_item(chat):
    chat.text("出生医学证明要多久")
    reply = chat.text("新生儿出生一件事要多久")
    assert "户口登记" in reply


def test_parallel_items_are_explained(chat):
    reply = chat.text("买二手房过户要办什么")
    assert "须并行办理" in reply


def test_out_of_scope_is_not_forced_into_a_bundle(chat):
    reply = chat.text("护照怎么办理")
    assert "不属于我能办理的" in reply and "出入境" in reply
    assert "不在我的服务范围" in chat.text("今天天气怎么样")


def test_fallback_offers_likely_bundles(chat):
    messages = chat.say("zxqv kkk 嗯嗯 ???")
    assert messages and messages[0].get("buttons"), messages
    assert "没" in messages[0]["text"] or "不在" in messages[0]["text"]


def test_greet_bot_challenge_thank_goodbye(chat):
    assert "一件事一次办" in chat.text("你好")
    assert "不是真人" in chat.text("你是机器人吗")
    assert "不客气" in chat.text("谢谢")
    assert "再见" in chat.text("拜拜")


def test_list_bundles_names_all(chat):
    reply = chat.text("你们能办哪些事")
    for bundle in KB.bundles:
        assert bundle.name in reply


def test_answers_follow_the_knowledge_base(chat, database_url, tmp_path):
    """Edit a bundle file, re-seed, and the same question gets the new content."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(KB.bundles[0].source_file.rsplit("/bundles/", 1)[0], data,
                    ignore=shutil.ignore_patterns("nlu"))
    path = data / "bundles" / "newborn.yml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "name: 预防接种证办理", "name: 预防接种证（疫苗本）办理"), encoding="utf-8")
    try:
        with session_scope() as s:
            seed(s, load_knowledge_base(data))
        assert "预防接种证（疫苗本）办理" in chat.text("孩子出生要办什么")
    finally:
        with session_scope() as s:
            seed(s)
    assert "预防接种证（疫苗本）办理" not in chat.text("孩子出生要办什么")
