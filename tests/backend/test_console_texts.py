"""The consoles' wording is data: every text the scripts ask for exists in
backend/console/text.yml, every API error code has its message, and the scripts
hold no Chinese of their own."""

from __future__ import annotations

import re

from backend.console import ASSETS
from backend.text import texts


def test_every_text_a_script_asks_for_exists():
    data = texts()
    wanted = set()
    for script in ASSETS.glob("*.js"):
        wanted |= set(re.findall(r"""\bt\(\s*["'`]([a-z_]+\.[a-z_]+)["'`]""", script.read_text()))
    assert len(wanted) > 20
    missing = [key for key in wanted if not isinstance(data.get(key.split(".")[0], {})
                                                       .get(key.split(".")[1]), str)]
    assert missing == []


def test_every_section_is_plain_strings():
    for section, entries in texts().items():
        for key, value in entries.items():
            assert isinstance(key, str) and isinstance(value, str), (section, key)


def test_scripts_hold_no_chinese_text():
    han = re.compile(r"[\u4e00-\u9fff]")
    for script in ASSETS.glob("*.js"):
        code = "\n".join(line.split("//")[0] for line in script.read_text().splitlines())
        assert not han.search(code), script.name


def test_every_error_code_of_the_staff_layer_has_a_message():
    from bot.staff.accounts import AccountError  # noqa: F401 - the codes below come from it

    codes = {"unauthorized", "forbidden", "csrf", "cross_site", "bad_credentials", "throttled",
             "json_required", "bad_json", "too_large", "bad_request", "not_found",
             "wrong_password", "bad_username", "bad_role", "no_role", "exists", "last_admin",
             "empty_password", "password_too_long", "password_too_short"}
    assert codes <= set(texts()["api"])
