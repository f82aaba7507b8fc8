"""The bundle resolver's mechanisms on a small knowledge base, without Rasa training:
the more specific name wins, services handled elsewhere, names and deeds together,
shared items decided by context, who the message is about, short messages."""

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.bundle_resolver import BundleResolver
from nlu.gazetteer import Match

LOOKUPS = {
    "bundle:enterprise_opening": ["开公司", "注册公司"],
    "item:enterprise_opening.establishment_registration": ["营业执照"],
    "bundle:after_death": ["老人去世", "办后事"],
    "bundle:employee_retirement": ["办退休", "退休手续"],
    "item:employee_retirement.normal_retirement_application": ["退休申请"],
    "item:employee_hiring.employment_registration": ["就业登记"],
    "item:flexible_employment.employment_registration": ["就业登记"],
    "bundle:flexible_employment": ["灵活就业"],
    "bundle:employee_hiring": ["员工入职"],
    "bundle:second_hand_housing": ["二手房过户"],
    "bundle:enterprise_real_estate": ["厂房过户"],
    "elsewhere:enterprise_change": ["营业执照变更"],
    "elsewhere:driving_licence": ["驾驶证"],
    "confused:driving_licence": ["after_death"],
    "elsewhere:passport": ["护照"],
    "together:id_card:0:names": ["身份证"],
    "together:id_card:0:deeds": ["丢", "补办"],
    "item:second_hand_housing.transfer_registration": ["过户登记"],
    "prefer:enterprise_real_estate:second_hand_housing": ["公司", "厂房"],
    "material": ["身份证原件", "户口本"],
    "department": ["办事大厅", "税务局"],
    "vocabulary": ["粤省事"],
    "gate:generic": ["材料", "原件", "地址", "老婆"],
    "focus:ask_materials": ["要带什么"],
    "audience:enterprise": ["enterprise_opening", "employee_hiring", "enterprise_real_estate"],
    "audience:personal": ["after_death", "employee_retirement", "flexible_employment",
                          "second_hand_housing"],
}
EXAMPLES = {
    "enterprise_opening": ["我想开公司", "注册公司要办什么", "开间公司做外贸", "公司刚成立要刻章",
                           "新公司领发票", "合伙开公司流程"],
    "employee_hiring": ["公司新招了员工", "员工入职要办什么", "新同事入职社保", "公司招人要办的手续",
                        "给新员工交社保", "企业新招工人"],
    "enterprise_real_estate": ["公司买了厂房过户", "企业名下写字楼过户", "公司买商铺产权登记",
                               "公司厂房不动产登记", "企业买楼交契税", "公司买铺过户"],
    "second_hand_housing": ["买了套二手房过户", "我家房子过户", "卖房子要过户", "二手房过户流程",
                            "买二手楼过户", "房子过户水电"],
    "after_death": ["老人去世了要办什么", "我爸走了后面怎么办", "家里老人过世", "办后事流程",
                    "亲人去世手续", "老人去世销户"],
    "employee_retirement": ["我快退休了要办什么", "退休手续怎么办", "办退休要多久", "到退休年龄了",
                            "退休金怎么领", "提前退休"],
    "flexible_employment": ["跑外卖的社保怎么交", "自由职业怎么参保", "我是骑手想交社保",
                            "打零工的社保", "灵活就业怎么办", "跑滴滴交社保"],
    "none": ["你好", "谢谢", "我要申请", "申请提交了吗", "帮我申请", "查一下申请进度", "要带什么材料",
             "去哪里办", "要多久", "护照怎么办", "天气怎么样"],
}


@pytest.fixture(scope="module")
def resolver(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    context = ExecutionContext(GraphSchema({}), "test")
    component = BundleResolver.create({**BundleResolver.get_default_config(), "C": 8.0, "confused_threshold": 0.5}, storage,
                                      Resource("resolver"), context)
    messages = []
    for bundle, texts in EXAMPLES.items():
        for text in texts:
            entities = [] if bundle == "none" else [
                {"entity": "bundle", "value": bundle, "start": 0, "end": len(text)}]
            messages.append(Message(data={"text": text, "intent": "ask_bundle", "entities": entities}))
    lookups = [{"name": k, "elements": v} for k, v in LOOKUPS.items()]
    component.train(TrainingData(training_examples=messages, lookup_tables=lookups))
    loaded = BundleResolver.load({**BundleResolver.get_default_config(), "C": 8.0, "confused_threshold": 0.5}, storage,
                                 Resource("resolver"), context)
    return loaded


def resolve(resolver, text, intent="ask_bundle"):
    bundle, item, _ranking, elsewhere = resolver.resolve(text, intent, [])
    return (bundle or {}).get("value"), (elsewhere or {}).get("value")


def test_the_longer_name_wins(resolver):
    assert resolve(resolver, "营业执照变更要什么材料") == (None, "enterprise_change")
    assert resolve(resolver, "营业执照怎么办") == ("enterprise_opening", None)
    # 老人去世 (4) is more specific than 驾驶证 (3)
    assert resolve(resolver, "老人去世了驾驶证怎么处理") == ("after_death", None)


def test_a_service_elsewhere_gets_no_bundle(resolver):
    assert resolve(resolver, "护照怎么办") == (None, "passport")
    assert resolve(resolver, "护照怎么办", intent="out_of_scope") == (None, "passport")


def test_a_name_and_a_deed_in_one_clause(resolver):
    assert resolve(resolver, "身份证丢了怎么办") == (None, "id_card")
    # in different clauses they say nothing together
    assert resolve(resolver, "身份证带上，怎么补办")[1] is None


def test_a_shared_item_is_decided_by_the_rest_of_the_message(resolver):
    assert resolve(resolver, "跑外卖的就业登记怎么办")[0] == "flexible_employment"
    assert resolve(resolver, "公司新招员工的就业登记")[0] == "employee_hiring"


def test_a_bundle_the_service_is_confused_with_can_win_on_context(resolver):
    bundle, elsewhere = resolve(resolver, "我爸走了后面驾驶证怎么办")
    assert (bundle, elsewhere) in {("after_death", None)}


def test_who_asks_moves_the_evidence_to_their_audience(resolver):
    text = "我们公司想买间铺过户"
    with_audience = resolver._probabilities(text)
    saved = resolver._config["audience_weight"]
    resolver._config["audience_weight"] = 0.0
    try:
        without = resolver._probabilities(text)
    finally:
        resolver._config["audience_weight"] = saved
    assert with_audience["enterprise_real_estate"] > without["enterprise_real_estate"]
    assert with_audience["second_hand_housing"] < without["second_hand_housing"]


def test_a_short_message_with_a_distinctive_part_keeps_its_bundle(resolver):
    assert resolver.parts.get("退休") == "employee_retirement"
    assert "申请" not in resolver.parts  # 退休申请's 申请 is said about anything
    bundle, _ = resolve(resolver, "退休")
    assert bundle == "employee_retirement"


def test_intents_without_a_bundle_get_none(resolver):
    assert resolve(resolver, "开公司", intent="greet") == (None, None)


def test_a_bundle_question_about_a_service_elsewhere_becomes_out_of_scope(resolver):
    message = Message(data={"text": "营业执照变更要什么材料",
                            "intent": {"name": "ask_materials", "confidence": 0.8},
                            "intent_ranking": [{"name": "ask_materials", "confidence": 0.8},
                                               {"name": "ask_bundle", "confidence": 0.15}]})
    resolver.process([message])
    assert message.get("intent")["name"] == "out_of_scope"
    ranking = message.get("intent_ranking")
    assert ranking[0]["confidence"] - ranking[1]["confidence"] > 0.5  # not "ambiguous"
    assert [e["value"] for e in message.get("entities") if e["entity"] == "elsewhere"] == [
        "enterprise_change"]


def test_a_short_service_name_must_not_straddle_a_word():
    # 那个税 is 那个 + 税 in general Chinese: not 个税
    matches = [Match("elsewhere", "individual_income_tax", 9, 11)]
    assert BundleResolver._words_only("企业买的写字楼那个税怎么交", matches) == []
    kept = [Match("elsewhere", "individual_income_tax", 0, 2)]
    assert BundleResolver._words_only("个税怎么交", kept) == kept


def test_cues_of_another_bundle_move_a_name_to_it(resolver):
    # 过户登记 is a flat's item, but a company's 厂房 is enterprise real estate
    assert resolve(resolver, "我家房子过户登记怎么办")[0] == "second_hand_housing"
    assert resolve(resolver, "公司买了厂房要过户登记")[0] == "enterprise_real_estate"


def test_a_question_about_an_unknown_thing_is_out_of_scope(resolver):
    assert resolver.unknown_object("办渔船证要什么材料", "ask_materials") == "渔船"
    # follow-ups carry only questions, documents, offices, channels and people
    for text in ("要带什么材料", "身份证原件要带吗", "办事大厅地址在哪", "粤省事能办吗", "我老婆要带什么"):
        assert resolver.unknown_object(text, "ask_materials") is None, text
    # a slip of one of our names (注消 for 注销 …) is not unknown; nor a bundle question
    assert resolver.unknown_object("开公思要什么材料", "ask_materials") is None
    assert resolver.unknown_object("老人去世了要带什么", "ask_materials") is None
    # only bundle questions are gated
    assert resolver.unknown_object("办渔船证要什么材料", "greet") is None


def test_the_gate_makes_the_intent_out_of_scope(resolver):
    message = Message(data={"text": "办渔船证要什么材料",
                            "intent": {"name": "ask_materials", "confidence": 0.8},
                            "intent_ranking": [{"name": "ask_materials", "confidence": 0.8},
                                               {"name": "out_of_scope", "confidence": 0.1}]})
    resolver.process([message])
    assert message.get("intent")["name"] == "out_of_scope"
    assert not [e for e in message.get("entities") if e["entity"] == "bundle"]


def test_a_message_about_a_bundle_asks_a_bundle_question(resolver):
    # the classifier hesitates, but greet/inform cannot be about a bundle: their
    # mass goes to the bundle questions, so the top one is no longer a fallback
    ranking = [{"name": "ask_materials", "confidence": 0.28}, {"name": "inform", "confidence": 0.27},
               {"name": "ask_bundle", "confidence": 0.25}, {"name": "greet", "confidence": 0.2}]
    message = Message(data={"text": "老人去世了要带身份证原件吗", "intent": ranking[0],
                            "intent_ranking": ranking})
    resolver.process([message])
    assert [e["value"] for e in message.get("entities") if e["entity"] == "bundle"] == ["after_death"]
    names = [r["name"] for r in message.get("intent_ranking")]
    assert names == ["ask_materials", "ask_bundle"]
    assert message.get("intent")["confidence"] == pytest.approx(0.28 / 0.53)


def test_a_bundle_question_about_no_bundle_that_may_be_out_of_scope_is(resolver):
    def parsed(text, oos):
        ranking = [{"name": "ask_department", "confidence": 1 - oos}, {"name": "out_of_scope", "confidence": oos}]
        message = Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking})
        resolver.process([message])
        return message.get("intent")["name"]

    assert parsed("那个东西在哪办", 0.3) == "out_of_scope"
    assert parsed("那个东西在哪办", 0.05) == "ask_department"  # a follow-up: the dialogue has the bundle
    assert parsed("老人去世了在哪办", 0.3) == "ask_department"  # a bundle: not gated


def test_the_same_content_trains_the_same_model(resolver, tmp_path):
    config = {**BundleResolver.get_default_config(), "C": 8.0, "confused_threshold": 0.5}
    context = ExecutionContext(GraphSchema({}), "test")
    messages = [Message(data={"text": t, "intent": "ask_bundle", "entities": [] if b == "none" else [
        {"entity": "bundle", "value": b, "start": 0, "end": len(t)}]}) for b, ts in EXAMPLES.items() for t in ts]
    lookups = [{"name": k, "elements": v} for k, v in LOOKUPS.items()]
    again = BundleResolver.create(config, LocalModelStorage(tmp_path), Resource("again"), context)
    again.train(TrainingData(training_examples=messages, lookup_tables=lookups))
    assert (again.classifier.coef_ == resolver.classifier.coef_).all()
