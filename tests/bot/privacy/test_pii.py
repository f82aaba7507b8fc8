"""One extractor for the vault and for validation: every spelling a citizen uses for
a 身份证号 or mobile number is found, nothing else is."""

import pytest

from bot.applications.formspec import FieldSpec
from bot.applications.validation import check
from bot.privacy import pii
from bot.privacy.vault import TOKEN_RE, Vault

ID = "440106199203151025"
PHONE = "13800138000"
# The spellings an attacker got past the old vault (issue 8), and more.
SPELLINGS = [
    ("440106 19920315 1025", pii.ID, ID),
    ("4401 0619 9203 1510 25", pii.ID, ID),
    ("４４０１０６\u300019920315\u30001025", pii.ID, ID),
    ("ID440106199203151025", pii.ID, ID),
    ("身份证44010619920315102x", pii.ID, "44010619920315102X"),
    ("4401 0619 9203 1510 2X", pii.ID, "44010619920315102X"),
    ("440106199203151025123", pii.ID, "440106199203151025123"),  # a 21-digit run
    ("1380 013 8000", pii.PHONE, PHONE),
    ("tel13800138000", pii.PHONE, PHONE),
    ("１３８－００１３－８０００", pii.PHONE, PHONE),
    ("+86 138-0013-8000", pii.PHONE, PHONE),
    ("008613800138000", pii.PHONE, PHONE),
    ("电话1380013800", pii.PHONE, "1380013800"),  # a digit short: still personal
]


@pytest.mark.parametrize(("text", "kind", "value"), SPELLINGS)
def test_every_spelling_is_found(text, kind, value):
    [found] = pii.find(text)
    assert (found.kind, found.value) == (kind, value)


@pytest.mark.parametrize("text", ["1 3", "1、3、5", "10 11 12", "YJS-20261128-000001",
                                  "2026-11-20", "20261120", "50000元", "020-8888 6666",
                                  "体育西路123号1801房"])
def test_other_numbers_are_not_personal_data(text):
    assert pii.find(text) == []


def test_numbers_side_by_side_are_told_apart():
    found = pii.find("20261120 13800138000 440106199203151025")
    assert [(f.kind, f.value) for f in found] == [(pii.PHONE, PHONE), (pii.ID, ID)]


@pytest.mark.parametrize(("text", "kind", "value"), SPELLINGS)
def test_the_vault_leaves_no_digit_of_them(database_url, text, kind, value):
    protected = Vault().protect(f"我的号码：{text}。", "citizen-pii")
    assert not any(ch.isdigit() for ch in TOKEN_RE.sub("", protected)), protected
    assert len(TOKEN_RE.findall(protected)) == 1
    _, [secret] = Vault().reveal(protected, "citizen-pii")
    assert (secret.kind, secret.value) == (kind, value)


@pytest.mark.parametrize("text", [s for s, kind, _ in SPELLINGS if kind == pii.ID] + [
    s for s, kind, _ in SPELLINGS if kind == pii.PHONE])
def test_validation_accepts_only_what_the_vault_finds(text):
    """Whatever an id or phone field accepts, the vault has found (and so vaulted)."""
    for type_ in ("id_number", "phone"):
        result = check(FieldSpec(id="f", label="字段", type=type_), text, {})
        if result.ok:
            assert [f.value for f in pii.find(text)] == [result.value]


def test_typed_brackets_cannot_pass_for_a_token(database_url):
    protected = Vault().protect("⟪身份证号:k3j9x2m4p7⟫", "citizen-brackets")
    assert TOKEN_RE.search(protected) is None and protected == "《身份证号:k3j9x2m4p7》"
