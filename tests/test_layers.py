"""Layers point one way: nothing under bot/ (the services) imports the web layer
(backend/), the input channels (channels/) or the actions (actions/)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"backend", "channels", "actions", "aiohttp", "sanic"}
# Top-level names that must not appear in bot/: the web layer and the outer layers.
# (bot/run.py starts the backend as a process, `python -m backend`, and imports nothing of it.)
# Programs that are their own processes may use an HTTP server library; no service imports them:
PROGRAMS = {"bot/rasa_server.py": {"sanic"},            # `rasa run` with our listener
            "bot/identity/fake.py": {"aiohttp"}}         # loopback fake of an outside provider


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and (getattr(node.func, "id", None) == "__import__"
                   or getattr(node.func, "attr", None) == "import_module")):
            found.add(str(node.args[0].value))
    return found


def test_bot_never_imports_the_web_layer_channels_or_actions():
    offenders = []
    files = sorted((ROOT / "bot").rglob("*.py"))
    assert len(files) > 30
    for path in files:
        rel = path.relative_to(ROOT)
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in FORBIDDEN and top not in PROGRAMS.get(rel.as_posix(), set()):
                offenders.append(f"{rel}: {module}")
            if module in {"bot.rasa_server", "bot.identity.fake"}:
                offenders.append(f"{rel}: imports the program {module}")
    assert offenders == []


def test_the_checker_sees_imports_in_every_form(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import backend.app\nfrom channels import rest\n"
                      "def f():\n    from actions.answers import X\n"
                      "    __import__('backend')\n", encoding="utf-8")
    assert {"backend.app", "channels", "actions.answers", "backend"} <= imported_modules(sample)


def test_the_old_web_package_is_gone():
    assert not (ROOT / "bot" / "web").exists()
    assert not (ROOT / "wechat" / "miniprogram").exists()
    assert (ROOT / "backend" / "__main__.py").exists()
