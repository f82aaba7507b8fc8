"""wechat/xml.py (hostile and malformed bodies) and wechat/replies.py (rendering, numbers)."""

from __future__ import annotations

import pytest

from channels.wechat import menu_payload
from tests.wechat.channel.pushes import WeChatSim, template
from wechat import xml as wxml
from wechat.inbox import message_key
from wechat.replies import CHOICES_HEADER, choice_payload, render, text_reply_xml

OPENID = "o" + "x" * 27
FILL = {"account": "gh_7f083739789a", "openid": OPENID, "create_time": 1700000000,
        "msg_id": 1234567890123456}


@pytest.mark.parametrize("name", ["hostile_billion_laughs.xml", "hostile_external_entity.xml",
                                  "hostile_parameter_entity.xml",
                                  "hostile_processing_instruction.xml"])
def test_hostile_xml_is_refused_before_parsing(name):
    with pytest.raises(wxml.Hostile):
        wxml.parse(template(name, **FILL))


def test_hostile_markup_hidden_from_the_scan_is_still_refused_by_expat():
    body = ("<!-- <![CDATA[ --><!DOCTYPE x [<!ENTITY a 'b'>]><!-- ]]> -->"
            + template("text.xml", content="hi", **FILL))
    with pytest.raises(wxml.Hostile):
        wxml.check_safe(body.encode())


def test_malformed_and_wrong_shapes_are_bad_requests():
    with pytest.raises(wxml.BadXML):
        wxml.parse(template("malformed.xml", **FILL))
    for body in (b"", b"   ", b"not xml", b"<root><a>1</a></root>", b"<xml>text</xml>",
                 b"<xml><MsgType>text</MsgType></xml>", "<xml>\udcff</xml>".encode(errors="surrogatepass"),
                 b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
                 b"<CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>",
                 b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
                 b"<FromUserName>c</FromUserName><CreateTime>1</CreateTime>"
                 b"<MsgType>text</MsgType></xml>",
                 b"<xml><a>&undefined;</a></xml>"):
        with pytest.raises(wxml.BadXML):
            wxml.parse(body)


def test_huge_body_is_too_large():
    body = template("text.xml", content="长" * 30000, **FILL).encode()
    assert len(body) > wxml.MAX_BODY_BYTES
    with pytest.raises(wxml.TooLarge) as exc:
        wxml.check_size(body)
    assert exc.value.status == 413


def test_user_text_may_contain_markup_like_characters_in_cdata():
    msg = wxml.parse(template("text.xml", content="<?php 1 ?> & <!DOCTYPE> ok", **FILL))
    assert msg.content == "<?php 1 ?> & <!DOCTYPE> ok"


def test_xml_declaration_is_allowed():
    msg = wxml.parse('<?xml version="1.0" encoding="UTF-8"?>' + template("text.xml", content="你好", **FILL))
    assert msg.content == "你好"


@pytest.mark.parametrize("kind,expected", [
    ("text", "text"), ("voice", "voice"), ("image", "image"), ("location", "location"),
    ("link", "link"), ("video", "video"), ("event_subscribe", "event"),
    ("event_unsubscribe", "event"), ("event_click", "event")])
def test_every_fixture_parses(kind, expected):
    sim = WeChatSim("http://unused", "t", "k", "wx1")
    msg = wxml.parse(sim.message(kind, OPENID, content="你好", recognition="孩子出生要办什么",
                                 event_key="newborn"))
    assert msg.type == expected and msg.source == OPENID


def test_dedup_keys_msgid_for_messages_openid_time_for_events():
    sim = WeChatSim("http://unused", "t", "k", "wx1")
    text = wxml.parse(sim.text(OPENID, "x", msg_id=42))
    assert message_key(text) == f"msg:{OPENID}:42"  # MsgId is not unique across citizens
    event = wxml.parse(sim.message("event_subscribe", OPENID, create_time=1700000001))
    assert message_key(event) == f"evt:{OPENID}:1700000001:subscribe"


def test_render_merges_messages_and_numbers_buttons_across_them():
    rendered = render([
        {"text": "您要问哪件事？", "buttons": [{"title": "新生儿出生", "payload": "/a"},
                                        {"title": "企业开办", "payload": "/b"}]},
        {"image": "https://example.org/x.png"},
        {"text": "也可以：", "buttons": [{"title": "人工服务", "payload": "/request_human"}]},
    ])
    assert rendered.text == ("您要问哪件事？\n" + CHOICES_HEADER + "\n1. 新生儿出生\n2. 企业开办\n\n"
                             "图片：https://example.org/x.png\n\n也可以：\n" + CHOICES_HEADER
                             + "\n3. 人工服务")
    assert [c["payload"] for c in rendered.choices] == ["/a", "/b", "/request_human"]


def test_a_message_that_numbers_its_own_lines_keeps_its_numbers():
    """The item question lists "1. …" itself: "1" must mean item 1, not the first
    button ("全部办理"), so its buttons are not numbered (issue 8, item 10)."""
    rendered = render([{"text": "“新生儿出生”包含以下事项：\n1. 出生医学证明签发\n2. 户口登记\n"
                                "全部办理请回复“全部”；只办部分请回复编号，如“1 3”。",
                        "buttons": [{"title": "全部办理", "payload": "全部"}]},
                       {"text": "（3/9）婚姻状况？\n1. 已婚  2. 未婚",
                        "buttons": [{"title": "已婚"}, {"title": "未婚"}, {"title": "没有"}]}])
    assert rendered.choices == []
    assert CHOICES_HEADER not in rendered.text and "全部办理请回复" in rendered.text
    assert rendered.text.endswith("也可以回复：“没有”")
    assert choice_payload("1", rendered.choices) is None  # "1" reaches the dialogue as typed


def test_own_numbers_in_one_message_keep_every_button_of_the_turn_unnumbered():
    """A personal list with buttons, then the item question: "1" is item 1 of the
    question, never the list's first button ("全部办理")."""
    rendered = render([{"text": "按您的情况要办这2项。也可以说“先办1和3”。",
                        "buttons": [{"title": "全部办理", "payload": "全部"},
                                    {"title": "去哪里办", "payload": "/ask_department"}]},
                       {"text": "请选择要办的事项：\n1. 出生医学证明签发\n2. 户口登记"}])
    assert rendered.choices == [] and CHOICES_HEADER not in rendered.text
    assert "也可以回复：“全部办理”、“去哪里办”" in rendered.text
    assert choice_payload("1", rendered.choices) is None


@pytest.mark.parametrize("said,payload", [("1", "/a"), (" 2 ", "/b"), ("２", "/b"), ("2.", "/b"),
                                          ("选1", "/a"), ("3", None), ("0", None),
                                          ("1个月", None), ("12345", None), ("", None)])
def test_choice_numbers(said, payload):
    choices = [{"title": "A", "payload": "/a"}, {"title": "B", "payload": "/b"}]
    assert choice_payload(said, choices) == payload


def test_passive_reply_cannot_be_broken_by_cdata_terminators():
    xml = text_reply_xml(OPENID, "gh_1", "姓名：]]><MsgType>image</MsgType>", 1700000000)
    fields = wxml.parse_dict(xml)
    assert fields["Content"] == "姓名：]]><MsgType>image</MsgType>"
    assert fields["MsgType"] == "text"


def test_menu_payloads():
    assert menu_payload("newborn") == '/ask_bundle{"bundle":"newborn"}'
    assert menu_payload("bundle:after_death") == '/ask_bundle{"bundle":"after_death"}'
    assert menu_payload("list_bundles") == "/list_bundles"
    assert menu_payload('x"}/greet') is None
    assert menu_payload("") is None
