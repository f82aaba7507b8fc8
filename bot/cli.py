"""Command line: python -m bot <command>. Used by the Makefile and by people."""

from __future__ import annotations

import argparse
import sys

from bot.applications.formspec import FormSpecError
from bot.kb.loader import KnowledgeBaseError
from bot.privacy.crypto import DataKeyMissing


def _init(_args) -> None:
    from bot.applications.shared_data import seed_demo_records
    from bot.db import session_scope
    from bot.kb.seed import seed
    from bot.migrate import upgrade
    from bot.privacy.crypto import data_key

    data_key()  # fail early, before anything is written, when production lacks its key
    upgrade()
    from bot.content.store import live_knowledge_base

    with session_scope() as session:
        # once the console has published, the live content version is what is seeded
        # (data/ is imported in the console, or exported from it, never silently mixed)
        changed = seed(session, live_knowledge_base())
    print("knowledge base seeded" if changed else "knowledge base up to date")
    if not _production():
        with session_scope() as session:
            print(f"{seed_demo_records(session)} demo citizen records")
    _check_forms()


def _production() -> bool:
    from bot.privacy.crypto import production

    return production()


def _check_forms() -> None:
    from bot.applications.service import Applications

    print(f"{len(Applications().forms)} application forms")


def _dept_key(args) -> None:
    from bot.applications.department_keys import DepartmentKeys

    if not args.args:
        raise SystemExit("usage: python -m bot dept-key <department_id> [label]")
    key = DepartmentKeys().create(args.args[0], " ".join(args.args[1:]) or None)
    print(f"API key for {args.args[0]} (shown once, store it in the department's system):\n{key}")


def _gen_key(_args) -> None:
    from bot.privacy.crypto import generate_key

    print(generate_key())


def _check(_args) -> None:
    from bot.kb.elsewhere import load_catalogue
    from bot.kb.loader import load_knowledge_base

    kb = load_knowledge_base()
    items = sum(len(b.items) for b in kb.bundles)
    catalogue = load_catalogue(kb)
    print(f"ok: {len(kb.bundles)} bundles, {items} items, {len(kb.materials)} materials, "
          f"{len(catalogue.services)} services handled elsewhere")


def _situations(_args) -> None:
    from bot.kb.report import table

    print(table())


def _export(_args) -> None:
    from bot.nlu_export import export

    for path in export():
        print(path)


def _model(_args) -> None:
    from bot.model import ensure_model

    print(ensure_model())


def _fingerprint(_args) -> None:
    from bot.model import fingerprint

    print(fingerprint())


def _data_paths(_args) -> None:
    from bot.model import training_data_paths

    print(" ".join(str(p) for p in training_data_paths() if p.exists()))


def _read_password() -> str:
    """One line from standard input (`echo 'pw' | yjs staff add …`); asked twice,
    without echo, when standard input is a terminal."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("the two passwords differ; nothing changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _staff(args) -> int:
    from bot.migrate import upgrade
    from bot.staff.accounts import AccountError, StaffAccounts
    from bot.staff.audit import Actor
    from bot.staff.passwords import SUGGESTED_MIN_CHARS, is_weak

    upgrade()  # the account table exists even before the first `make run`
    accounts = StaffAccounts()
    try:
        if args.staff_command == "add":
            password = _read_password()
            account, created = accounts.add_or_update(args.name, args.role, password,
                                                      actor=Actor.cli())
            if is_weak(password):
                print(f"warning: passwords under {SUGGESTED_MIN_CHARS} characters are easy to "
                      "guess; set a longer one before real use", file=sys.stderr)
            print(f"{'created' if created else 'updated'} staff account {account.username} "
                  f"(roles: {', '.join(account.roles)})")
        elif args.staff_command == "list":
            for a in accounts.list():
                state = "disabled" if a.disabled else "active"
                print(f"{a.username}\t{','.join(a.roles)}\t{state}")
        elif args.staff_command == "disable":
            account = accounts.update(args.name, disabled=True, actor=Actor.cli())
            print(f"disabled {account.username}; its sessions have ended")
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _staff_parser(sub) -> None:
    from bot.staff.accounts import ROLES

    staff = sub.add_parser("staff", help="console accounts: staff add NAME --role ROLE … "
                                         "(password on standard input)")
    commands = staff.add_subparsers(dest="staff_command", required=True)
    add = commands.add_parser("add", help="create or update an account; the password is one "
                                          "line on standard input")
    add.add_argument("name")
    add.add_argument("--role", action="append", required=True, choices=ROLES,
                     help="agent, editor, publisher or admin; repeat for several")
    commands.add_parser("list", help="accounts, roles and state")
    disable = commands.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("name")
def _retention(_args) -> None:
    from bot.retention import run_once

    for what, count in run_once().items():
        print(f"{what}: {count} deleted")


def _content(args) -> None:
    """content export [live|draft|ID] | content import: data/ ⇄ the console's versions."""
    from bot.content.store import ContentInvalid, ContentStore
    from bot.migrate import upgrade
    from bot.staff.audit import Actor

    upgrade()
    store = ContentStore()
    what = args.args[0] if args.args else ""
    if what == "export":
        which = args.args[1] if len(args.args) > 1 else "live"
        files = store.export(which)
        print(f"content version {store.info(which)['id']} → data/: "
              f"{len(files)} file(s) changed" + "".join(f"\n  {f}" for f in files))
    elif what == "import":
        try:
            print(f"data/ is now draft version {store.import_(Actor.cli())['version']}")
        except ContentInvalid as exc:
            raise SystemExit("data/ is not valid, nothing imported:\n  " + "\n  ".join(
                f"{p['file']} {p['field']}: {p['message']}" for p in exc.problems)) from None
    else:
        raise SystemExit("usage: python -m bot content export [live|draft|ID] | content import")


COMMANDS = {
    "content": (_content, "content export [live|draft|ID] (a console version → data/) | content import"),
    "init": (_init, "migrate the database and seed the knowledge base (idempotent)"),
    "check": (_check, "validate data/ without touching the database"),
    "situations": (_situations, "how much shorter the personal lists are, per bundle and case"),
    "nlu-export": (_export, "generate build/nlu and build/jieba from the knowledge base"),
    "model": (_model, "print the model for the current content, training it if needed"),
    "fingerprint": (_fingerprint, "print the content fingerprint of the model"),
    "data-paths": (_data_paths, "print the Rasa training data paths"),
    "dept-key": (_dept_key, "create an API key for a department system: dept-key <department_id>"),
    "gen-key": (_gen_key, "print a new YJS_DATA_KEY for encrypting personal data"),
    "retention": (_retention, "delete personal data past its retention period (bot/retention.py)"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="一件事一次办 assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_fn, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text).add_argument("args", nargs="*")
    _staff_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "staff":
            return _staff(args)
        COMMANDS[args.command][0](args)
    except (KnowledgeBaseError, FormSpecError, DataKeyMissing) as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0
