"""The vault swaps 身份证号 and phone numbers for tokens and gives them back
only to the conversation they came from; the database holds ciphertext."""

import re
from pathlib import Path

from bot.privacy.masking import mask_id, mask_phone, mask_text
from bot.privacy.vault import TOKEN_RE, Vault, contains_pii
from tests.bot.applications.values import make_id

ID = make_id()


def test_protect_replaces_numbers_with_labelled_tokens(database_url):
    vault = Vault()
    text = vault.protect(f"我的身份证号是{ID}，电话 138 0013 8000。", "alice")
    assert ID not in text and "13800138000" not in text and "0013" not in text
    kinds = [m.group(1) for m in TOKEN_RE.finditer(text)]
    assert kinds == ["身份证号", "手机号"]
    assert text.startswith("我的身份证号是⟪身份证号:") and text.endswith("⟫。")


def test_full_width_and_mistyped_numbers_are_caught(database_url):
    vault = Vault()
    assert not contains_pii(vault.protect("身份证４４０１０６１９９２０３１５１０２５", "a"))
    assert not contains_pii(vault.protect("4401061992031510", "a"))  # 16 digits: a typo, still personal
    assert not contains_pii(vault.protect("电话1380013800", "a"))     # 10 digits
    assert vault.protect("编号 YJS-20261128-000001，12345 热线", "a") == "编号 YJS-20261128-000001，12345 热线"


def test_reveal_only_for_the_owner(database_url):
    vault = Vault()
    text = vault.protect(f"身份证{ID}", "alice")
    clear, secrets = vault.reveal(text, "alice")
    assert clear == f"身份证{ID}" and secrets[0].kind == "id_number" and secrets[0].masked == mask_id(ID)
    stolen, none = vault.reveal(text, "mallory")
    assert stolen == text and none == []


def test_database_holds_no_plain_numbers(database_url):
    Vault().protect(f"{ID} 13700001111", "bob")
    raw = Path(database_url.removeprefix("sqlite:///")).read_bytes()
    wal = Path(database_url.removeprefix("sqlite:///") + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert ID.encode() not in raw and b"13700001111" not in raw


def test_masks():
    assert mask_id("440106199203151025") == "4401**********1025"
    assert mask_phone("13800138000") == "138****8000"
    masked = mask_text(f"id {ID} tel 13800138000")
    assert ID not in masked and "13800138000" not in masked and re.search(r"4401\*{10}\d{3}[\dX]", masked)
