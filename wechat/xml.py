"""Parsing what WeChat pushes, refusing anything a push never contains.

WeChat's XML is flat and small: no DOCTYPE, no entities, no processing
instructions. Those are exactly what XML attacks need (billion laughs, external
entities), so they are refused before any parser builds a tree, in two layers:
a scan of the raw text, then an expat pass whose DTD/entity/PI handlers refuse
(that pass also catches spellings the scan could miss). Only then does
wechatpy.parse_message (xmltodict) read the message.
"""

from __future__ import annotations

import re
from typing import Any
from xml.parsers import expat

import xmltodict
from wechatpy import parse_message as _wechatpy_parse
from wechatpy.messages import BaseMessage

MAX_BODY_BYTES = 64 * 1024


class BadXML(Exception):
    """Refused body. `status` is the HTTP answer: 400 malformed/hostile, 413 too large."""

    status = 400


class TooLarge(BadXML):
    status = 413


class Hostile(BadXML):
    pass


_CDATA = re.compile(rb"<!\[CDATA\[.*?\]\]>", re.S)
_DECLARATION = re.compile(rb"^\s*<\?xml[^?>]*\?>", re.I)
_FORBIDDEN = re.compile(rb"<!DOCTYPE|<!ENTITY|<!ATTLIST|<!ELEMENT|<!NOTATION|<\?", re.I)


def check_size(body: bytes | None) -> bytes:
    body = body or b""
    if len(body) > MAX_BODY_BYTES:
        raise TooLarge(f"body larger than {MAX_BODY_BYTES} bytes")
    return body


def _refuse(*_args: Any) -> None:
    raise Hostile("DOCTYPE, entity or processing instruction")


def check_safe(data: bytes | str) -> bytes:
    """The body, if it is small, well-formed UTF-8 XML without DTD, entities or PIs."""
    raw = data.encode("utf-8") if isinstance(data, str) else check_size(data)
    check_size(raw)
    if not raw.strip():
        raise BadXML("empty body")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadXML("body is not UTF-8") from None
    # Layer 1: raw scan. A leading XML declaration is allowed (it is not a PI); user
    # text inside CDATA may legitimately contain "<?", so CDATA is skipped.
    scan = _CDATA.sub(b"", _DECLARATION.sub(b"", raw, count=1))
    if _FORBIDDEN.search(scan):
        raise Hostile("DOCTYPE, entity or processing instruction")
    # Layer 2: expat itself refuses any DTD, entity declaration, entity reference
    # to an external/undefined entity, or PI.
    parser = expat.ParserCreate("UTF-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.NotationDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.ProcessingInstructionHandler = _refuse
    parser.SkippedEntityHandler = _refuse
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        raise BadXML(f"malformed XML: {exc}") from None
    return raw


def parse_dict(data: bytes | str) -> dict[str, Any]:
    """The <xml> root as a flat dict of strings (the safe-mode envelope, the inner XML)."""
    raw = check_safe(data)
    try:
        root = xmltodict.parse(raw, disable_entities=True)
    except Exception as exc:  # noqa: BLE001 - whatever the parser says, it is a bad body
        raise BadXML(f"malformed XML: {exc}") from None
    if not isinstance(root, dict) or not isinstance(root.get("xml"), dict):
        raise BadXML("root element must be <xml> with children")
    return root["xml"]


def parse(data: bytes | str) -> BaseMessage:
    """A wechatpy message or event object for a verified, decrypted push."""
    fields = parse_dict(data)
    for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        if not isinstance(fields.get(name), str) or not fields[name].strip():
            raise BadXML(f"missing or repeated field {name}")
    if not fields["CreateTime"].strip().isdigit():
        raise BadXML("CreateTime is not a number")
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        return _wechatpy_parse(text)
    except Exception as exc:  # noqa: BLE001
        raise BadXML(f"not a WeChat message: {exc}") from None
