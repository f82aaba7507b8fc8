"""The consoles in a real browser: Debian's Chromium, headless, driven by Playwright,
against `python -m backend` on a loopback port. Log in as admin, see the accounts,
create one, find it in the audit log; log in as an agent and reach the agent
console; the admin page refuses the agent. Each page is saved as a screenshot
(results/screenshots/) for a person to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.staff.accounts import ADMIN, AGENT, EDITOR
from tests.conftest import ROOT, free_port, running_backend

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--lang=zh-CN"]
SHOTS = ROOT / "results" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (make install installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def backend_url(database_url, tmp_path_factory):
    port = free_port()
    var = tmp_path_factory.mktemp("console-var")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHAT")}
    env.update(CONSOLE_PORT=str(port), DATABASE_URL=database_url, YJS_VAR_DIR=str(var))
    env.pop("YJS_TRUSTED_PROXIES", None)
    with running_backend(env, var / "backend.log", timeout=60) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is missing (Debian package chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


class Page:
    """A fresh browser profile (own cookies) that records console errors."""

    def __init__(self, chromium, base: str):
        self.context = chromium.new_context(viewport=VIEWPORT, locale="zh-CN",
                                            timezone_id="Asia/Shanghai")
        self.page = self.context.new_page()
        self.base, self.errors = base, []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" and "Failed to load resource" not in m.text else None)

    def goto(self, path: str):
        return self.page.goto(self.base + path)

    def login(self, username: str, password: str) -> None:
        self.page.wait_for_selector("#login-form")
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.click("#login-button")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def close(self) -> None:
        assert self.errors == [], self.errors  # no script error, no CSP violation
        self.context.close()


def test_admin_logs_in_sees_accounts_creates_one_and_finds_it_in_the_audit_log(
        chromium, backend_url, people):
    admin, agent = people(ADMIN, prefix="boss"), people(AGENT, prefix="zhang")
    p = Page(chromium, backend_url)
    response = p.goto("/console/admin/")
    assert "/console/?next=/console/admin/" in p.page.url  # no session: to the login page
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    p.shot("login")
    assert p.page.locator("h1").inner_text() == "一件事一次办 · 工作台"
    p.login(admin.username, "wrong password")
    p.page.wait_for_selector("#login-message.error")
    assert p.page.inner_text("#login-message") == "用户名或密码错误。"
    p.login(admin.username, admin.password)
    p.page.wait_for_url("**/console/admin/")
    p.page.wait_for_selector(f"tr[data-username='{agent.username}']")
    assert p.page.inner_text("#whoami") == admin.username
    assert "坐席" in p.page.inner_text(f"tr[data-username='{agent.username}']")
    p.shot("admin-accounts")

    new = "li-" + agent.username[-6:]
    p.page.fill("#new-username", new)
    p.page.fill("#new-display-name", "李娜")
    p.page.fill("#new-password", "initial-pass-123")
    p.page.check("#new-roles input[value=agent]")
    p.page.check("#new-roles input[value=editor]")
    p.page.click("#create-button")
    row = p.page.wait_for_selector(f"tr[data-username='{new}']")
    assert "李娜" in row.inner_text() and "内容编辑" in row.inner_text()
    assert p.page.inner_text("#create-message") == "账号已创建"

    p.page.click(f"tr[data-username='{new}'] button[data-action=edit]")
    p.page.wait_for_selector("#edit-dialog[open]")
    p.page.uncheck("#edit-roles input[value=editor]")
    p.shot("admin-edit")
    p.page.click("#edit-save")
    p.page.wait_for_selector("#edit-dialog", state="hidden")
    p.page.wait_for_selector(f"tr[data-username='{new}']:not(:has-text('内容编辑'))")
    assert p.page.inner_text("#accounts-message") == "已保存"

    p.page.click("[data-tab=audit]")
    p.page.wait_for_selector("#audit-table tbody tr td")
    p.page.fill("#audit-filters input[name=target]", new)
    p.page.click("#audit-filters button[type=submit]")
    # (the CSP forbids eval, so waits use selectors, not wait_for_function strings)
    p.page.wait_for_selector(f"#audit-table tbody tr:has-text('{new}'):has-text('创建账号')")
    p.page.wait_for_selector(f"#audit-table tbody tr:has-text('{new}'):has-text('修改账号')")
    p.page.wait_for_function("() => document.querySelectorAll('#audit-table tbody tr').length === 2")
    text = p.page.inner_text("#audit-table tbody")
    assert admin.username in text and new in text and "角色：坐席、内容编辑" in text
    p.page.click("#audit-filters button[type=reset]")
    p.page.wait_for_selector("#audit-table tbody tr:has-text('登录')")
    p.shot("admin-audit")

    p.page.click("#logout")
    p.page.wait_for_url("**/console/?bye=1")
    p.page.wait_for_selector("#login-message:has-text('您已退出登录')")  # rendered after load
    assert p.page.inner_text("#login-message") == "您已退出登录。"
    p.close()


def test_agent_reaches_the_agent_console_and_the_admin_page_refuses_it(
        chromium, backend_url, people):
    agent = people(AGENT, prefix="wang")
    p = Page(chromium, backend_url)
    p.goto("/console/")
    p.login(agent.username, agent.password)
    p.page.wait_for_url("**/console/agent/")
    p.page.wait_for_selector("#agent-workbench:not([hidden])")
    assert p.page.inner_text("#whoami") == agent.username
    # the queue is there (other tests' citizens may be waiting in it: the database is shared)
    p.page.wait_for_selector("#agent-workbench :text('会话队列')")
    assert "等待中" in p.page.inner_text("#agent-workbench")
    nav = p.page.locator(".topbar nav a")
    assert nav.all_inner_texts() == ["坐席工作台"]  # only the consoles the roles open
    p.shot("agent")

    refused = p.goto("/console/admin/")
    assert refused.status == 403
    assert "您没有访问此页面的权限" in p.page.inner_text("body")
    p.shot("forbidden")
    status = p.page.evaluate("fetch('/api/admin/accounts').then(r => r.status)")
    assert status == 403
    p.close()


def test_an_editor_is_sent_through_login_to_the_editor_console(chromium, backend_url, people):
    editor = people(EDITOR, prefix="chen")
    p = Page(chromium, backend_url)
    p.goto("/console/editor/#models")
    p.login(editor.username, editor.password)
    p.page.wait_for_url("**/console/editor/")
    p.page.wait_for_selector("#editor-workbench:not([hidden])")
    assert "草稿与线上版本的区别" in p.page.inner_text("#editor-workbench")
    p.shot("editor")
    p.close()
