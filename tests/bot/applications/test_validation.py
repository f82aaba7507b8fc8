"""Field validation: GB 11643 身份证号, phones, dates, names, codes — with the
messages a citizen sees."""

from datetime import date

import pytest

from bot.applications.formspec import FieldSpec
from bot.applications.validation import check, check_uscc
from tests.bot.applications.values import make_id

TODAY = date(2026, 11, 28)


def spec(type_: str, **kw) -> FieldSpec:
    return FieldSpec(id=kw.pop("id", "f"), label=kw.pop("label", "字段"), type=type_, **kw)


def test_valid_id_number_with_x_check_digit():
    ids = [make_id(seq=f"{n:03d}") for n in range(40)]
    with_x = next(i for i in ids if i.endswith("X"))
    assert check(spec("id_number"), with_x.lower(), {}, TODAY).value == with_x


@pytest.mark.parametrize(("raw", "says"), [
    ("44010619920315102", "18位"),            # 17 digits
    ("440106199203151024", "校验位"),          # wrong check digit
    (make_id(born="20300101"), "出生日期"),     # born in the future
    (make_id(born="19921340")[:17] + "0", "校验位"),
])
def test_bad_id_numbers_are_explained(raw, says):
    result = check(spec("id_number"), raw, {}, TODAY)
    assert not result.ok and says in result.error


def test_id_number_with_impossible_birth_date():
    body = "44010619921340102"
    bad = body + "10X98765432"[sum(int(c) * w for c, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11]
    assert "出生日期" in check(spec("id_number"), bad, {}, TODAY).error


@pytest.mark.parametrize(("raw", "value"), [
    ("13800138000", "13800138000"), ("138 0013 8000", "13800138000"),
    ("+86 138-0013-8000", "13800138000"), ("我的手机是13800138000", "13800138000"),
])
def test_phone_numbers(raw, value):
    assert check(spec("phone"), raw, {}, TODAY).value == value


@pytest.mark.parametrize("raw", ["12345", "1380013800", "23800138000", "020-12345678"])
def test_bad_phone_numbers(raw):
    assert "11位" in check(spec("phone"), raw, {}, TODAY).error


@pytest.mark.parametrize(("raw", "iso"), [
    ("2026年11月20日", "2026-11-20"), ("2026-11-20", "2026-11-20"), ("2026/1/9", "2026-01-09"),
    ("20261120", "2026-11-20"), ("昨天", "2026-11-27"), ("11月3号", "2026-11-03"), ("琴日", "2026-11-27"),
])
def test_dates(raw, iso):
    assert check(spec("date"), raw, {}, TODAY).value == iso


def test_birth_date_cannot_be_in_the_future():
    result = check(spec("date", label="出生日期", not_future=True), "2026年12月1日", {}, TODAY)
    assert result.error == "出生日期不能晚于今天，请再核对一下。"


def test_death_date_not_before_birth_date_in_the_id():
    death = spec("date", label="死亡日期", not_future=True, after_birth_of="deceased_id")
    values = {"deceased_id": make_id(born="19500301")}
    assert "不能早于出生日期（1950年3月1日）" in check(death, "1949年5月1日", values, TODAY).error
    assert check(death, "2026年11月1日", values, TODAY).value == "2026-11-01"


def test_appointment_date_cannot_be_in_the_past():
    assert "不能早于今天" in check(spec("date", label="预约日期", not_past=True), "2026年1月1日", {}, TODAY).error


def test_unreadable_date():
    assert "2026年11月20日" in check(spec("date"), "下个月某天", {}, TODAY).error


@pytest.mark.parametrize(("raw", "value"), [
    ("陈晓琳", "陈晓琳"), ("我叫陈晓琳", "陈晓琳"), ("宝宝叫李小宝", "李小宝"),
    ("阿依古丽·买买提", "阿依古丽·买买提"), ("John Smith", "John Smith"),
])
def test_names(raw, value):
    assert check(spec("name"), raw, {}, TODAY).value == value


@pytest.mark.parametrize("raw", ["1", "陈", "我要申请什么？", "13800138000"])
def test_bad_names(raw):
    assert not check(spec("name"), raw, {}, TODAY).ok


def test_text_length_limit_and_address_needs_detail():
    assert "最多10个字" in check(spec("text", max_len=10), "一" * 11, {}, TODAY).error
    assert "门牌号" in check(spec("address", label="地址"), "广州", {}, TODAY).error
    assert check(spec("address"), "广州市天河区体育西路101号", {}, TODAY).ok


def test_choice_by_number_word_or_alias():
    rel = spec("choice", options=("母亲", "父亲"), option_aliases=(("妈妈", "母亲"), ("老豆", "父亲")))
    assert check(rel, "2", {}, TODAY).value == "父亲"
    assert check(rel, "我系老豆", {}, TODAY).value == "父亲"
    assert check(rel, "妈妈", {}, TODAY).value == "母亲"
    assert "母亲、父亲" in check(rel, "叔叔", {}, TODAY).error


def test_uscc_check_character():
    assert check_uscc("91440101MA5CKQ7R8E")
    assert not check_uscc("91440101MA5CKQ7R8F")
    uscc = spec("code", id="company_uscc", label="统一社会信用代码",
                pattern=r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")
    assert "校验位" in check(uscc, "91440101MA5CKQ7R8F", {}, TODAY).error


def test_numbers_with_units_and_bounds():
    price = spec("number", label="成交价", unit="元", min=1000, max=1e9)
    assert check(price, "280万", {}, TODAY).value == "2800000"
    assert check(price, "2,800,000元", {}, TODAY).value == "2800000"
    assert "之间" in check(price, "10", {}, TODAY).error


def test_optional_field_accepts_none():
    assert check(spec("date", optional=True), "没有", {}, TODAY).value == ""
    assert not check(spec("date"), "没有", {}, TODAY).ok
