"""Content versions: every editable file of data/ as one snapshot per version.

Why snapshots of the files (not rows per field): data/ stays the human-readable
source, the same loaders (`python -m bot check`) validate a version exactly as
they validate data/, training reads a version materialised into a directory, and
export/import is a plain copy. A version is a few hundred KB of YAML text.

- The *draft* is the one version being edited (at most one; made from the live
  version on the first edit). Every edit is validated against the whole draft
  with the loaders; a problem → ContentInvalid (422 listing field paths) and
  nothing is saved.
- A version is *frozen* once a training starts from it (a new edit makes a new
  draft from it) or when it was imported.
- Which version is *live* is decided by the live model (bot.content.models): the
  model and the content it was trained from go live together.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import now
from bot.config import DATA_DIR, ROOT
from bot.content.tables import ContentLive, ContentVersion, TrainedModel, Training
from bot.db import session_factory
from bot.staff.audit import Actor, AuditLog

# data/ files a version holds: all YAML but what is generated or demo data.
EXCLUDED = ("nlu/generated/", "demo/")
EDITOR_EXAMPLES = "nlu/editor.yml"  # examples added through the console
ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
MAX_TEXT = 200
# Documents editable as a whole (besides bundles/<id>.yml): name → file.
DOCUMENTS = {"departments": "departments.yml", "materials": "materials.yml",
             "places": "places.yml", "normalization": "normalization.yml",
             "elsewhere": "elsewhere.yml", "fields": "forms/fields.yml"}
FORM_RE = re.compile(r"^forms/([a-z][a-z0-9_]*)$")
NLU_RE = re.compile(r"^nlu/([a-z][a-z0-9_]*)$")
ANNOTATION_RE = re.compile(r"\[([^\]]+)\]\((\w+)(?::[^)]*)?\)|\[([^\]]+)\]\{\"entity\": ?\"(\w+)\"[^}]*\}")


class ContentInvalid(ValueError):
    """The edit would make the content invalid; `problems` are dicts with field and message."""

    def __init__(self, problems: list[dict]):
        self.problems = problems
        super().__init__("; ".join(f"{p.get('field') or p.get('file')}: {p['message']}" for p in problems))


class NotFound(LookupError):
    pass


def snapshot(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """The editable files under `data_dir`, relative path → text."""
    out = {}
    for path in sorted(data_dir.rglob("*.yml")):
        rel = path.relative_to(data_dir).as_posix()
        if not rel.startswith(EXCLUDED):
            out[rel] = path.read_text(encoding="utf-8")
    return out


def files_hash(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def materialise(files: dict[str, str], target: Path) -> Path:
    """Write a version's files into `target` (a data/ directory)."""
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


@contextmanager
def materialised(files: dict[str, str]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="yjs-content-") as tmp:
        yield materialise(files, Path(tmp) / "data")


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=100)


def _problem(field: str, message: str, file: str = "") -> dict:
    return {"file": file, "line": 0, "field": field, "message": message}


def _domain() -> dict:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def validate(files: dict[str, str]) -> list[dict]:
    """Every problem of a version, checked as `python -m bot check` checks data/:
    the knowledge base, the catalogue of services elsewhere, the forms, and the
    editor's NLU examples. [] when valid."""
    from bot.applications.formspec import FormSpecError, load_forms
    from bot.kb.elsewhere import load_catalogue
    from bot.kb.loader import KnowledgeBaseError, load_knowledge_base

    problems: list[dict] = []
    with materialised(files) as data_dir:
        try:
            kb = load_knowledge_base(data_dir)
        except KnowledgeBaseError as exc:
            return [_clean(d, data_dir) for d in exc.details]
        try:
            load_catalogue(kb, data_dir)
        except KnowledgeBaseError as exc:
            problems += [_clean(d, data_dir) for d in exc.details]
        except ValueError as exc:
            problems.append(_problem("elsewhere", _rel(str(exc), data_dir), "elsewhere.yml"))
        try:
            load_forms({b.id: {it.id for it in b.items} for b in kb.bundles}, data_dir / "forms")
        except (FormSpecError, ValueError) as exc:
            problems.append(_problem("forms", _rel(str(exc), data_dir), "forms/"))
    problems += _check_nlu(files)
    return problems


def _clean(d: dict, data_dir: Path) -> dict:
    return {**d, "file": _rel(d.get("file", ""), data_dir), "message": _rel(d.get("message", ""), data_dir)}


def _rel(text: str, data_dir: Path) -> str:
    return str(text).replace(f"{data_dir}/", "")


def _check_nlu(files: dict[str, str]) -> list[dict]:
    domain = _domain()
    intents, entities = set(domain.get("intents") or ()), set(domain.get("entities") or ())
    problems = []
    for rel, text in files.items():
        if not rel.startswith("nlu/"):
            continue
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            problems.append(_problem(rel, f"not valid YAML: {exc}", rel))
            continue
        for n, block in enumerate(raw.get("nlu") or []):
            if isinstance(block, dict) and "intent" in block and block["intent"] not in intents:
                problems.append(_problem(f"nlu[{n}].intent", f"unknown intent '{block['intent']}'", rel))
            for m in ANNOTATION_RE.finditer(str((block or {}).get("examples", ""))):
                entity = m.group(2) or m.group(4)
                if entity not in entities:
                    problems.append(_problem(f"nlu[{n}].examples", f"unknown entity '{entity}'", rel))
    return problems


def example_problems(intent: Any, text: Any) -> list[dict]:
    domain = _domain()
    problems = []
    if not isinstance(intent, str) or intent not in (domain.get("intents") or ()):
        problems.append(_problem("intent", f"unknown intent {intent!r}"))
    if not isinstance(text, str) or not text.strip():
        problems.append(_problem("text", "the example is empty"))
    elif len(text) > MAX_TEXT or "\n" in text:
        problems.append(_problem("text", f"one line of at most {MAX_TEXT} characters"))
    else:
        for m in ANNOTATION_RE.finditer(text):
            if (m.group(2) or m.group(4)) not in (domain.get("entities") or ()):
                problems.append(_problem("text", f"unknown entity '{m.group(2) or m.group(4)}'"))
    return problems


# --- readable differences ------------------------------------------------------------------

def _changes(before: Any, after: Any, path: str = "") -> list[dict]:
    """Field-level changes between two parsed documents: [{"path", "change", "before", "after"}]."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in [*before, *(k for k in after if k not in before)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in after:
                out.append({"path": sub, "change": "removed", "before": before[key], "after": None})
            elif key not in before:
                out.append({"path": sub, "change": "added", "before": None, "after": after[key]})
            else:
                out += _changes(before[key], after[key], sub)
        return out
    if isinstance(before, list) and isinstance(after, list):
        if all(isinstance(x, dict) and "id" in x for x in [*before, *after]):
            b = {x["id"]: x for x in before}
            a = {x["id"]: x for x in after}
            return _changes(b, a, path)
        if before != after:
            removed = [x for x in before if x not in after]
            added = [x for x in after if x not in before]
            out = [{"path": path, "change": "added", "before": None, "after": x} for x in added]
            out += [{"path": path, "change": "removed", "before": x, "after": None} for x in removed]
            return out or [{"path": path, "change": "reordered", "before": before, "after": after}]
        return []
    if before != after:
        return [{"path": path, "change": "changed", "before": before, "after": after}]
    return []


def diff_files(old: dict[str, str], new: dict[str, str]) -> list[dict]:
    """Per file (bundles named by id): what changed, field by field, plus the text diff."""
    out = []
    for rel in sorted({*old, *new}):
        a, b = old.get(rel), new.get(rel)
        if a == b:
            continue
        entry: dict[str, Any] = {"file": rel, "change": "added" if a is None else "removed" if b is None
                                 else "changed"}
        m = re.match(r"^bundles/([a-z0-9_]+)\.yml$", rel)
        if m:
            entry["bundle"] = m.group(1)
        try:
            entry["changes"] = _changes(yaml.safe_load(a or "") or {}, yaml.safe_load(b or "") or {})
        except yaml.YAMLError:
            entry["changes"] = []
        entry["text"] = "".join(difflib.unified_diff((a or "").splitlines(True), (b or "").splitlines(True),
                                                     f"live/{rel}", f"draft/{rel}", n=2))
        out.append(entry)
    return out


# --- the store -----------------------------------------------------------------------------

@dataclass
class VersionInfo:
    id: int
    state: str
    parent_id: int | None
    content_hash: str
    created_by: str | None
    created_at: str
    editors: list[str]
    note: str | None
    live: bool = False

    def as_json(self) -> dict:
        return dict(self.__dict__)


class ContentStore:
    def __init__(self, sessions: sessionmaker | None = None, audit: AuditLog | None = None):
        self._sessions = sessions or session_factory()
        self._audit = audit or AuditLog(self._sessions)

    # reading
    def live_version_id(self, session: Session | None = None) -> int:
        """The content version of the live model; before any publish, data/ as imported."""
        if session is None:
            with self._sessions.begin() as s:
                return self.live_version_id(s)
        row = session.execute(select(TrainedModel.content_version_id).join(
            ContentLive, ContentLive.model_id == TrainedModel.id)).scalar_one_or_none()
        if row is not None:
            return row
        return self._baseline(session).id

    def _baseline(self, session: Session) -> ContentVersion:
        """The first version: data/ as it is (made on first use)."""
        first = session.execute(select(ContentVersion).order_by(ContentVersion.id).limit(1)).scalar_one_or_none()
        if first is not None:
            return first
        files = snapshot()
        row = ContentVersion(state="frozen", files=files, content_hash=files_hash(files),
                             note="data/ at first use", created_by="system", created_at=now(), editors=[])
        session.add(row)
        session.flush()
        return row

    def _draft(self, session: Session) -> ContentVersion | None:
        return session.execute(select(ContentVersion).where(ContentVersion.state == "draft")
                               .order_by(ContentVersion.id.desc()).limit(1)).scalar_one_or_none()

    def _working(self, session: Session) -> ContentVersion:
        """What the next edit starts from: the draft; else the newest version a training
        froze on top of the live one and that never went live (so training a draft,
        reading its evaluation and editing again never drops the edits that were trained,
        while a version rolled back from stays behind); else live."""
        draft = self._draft(session)
        if draft is not None:
            return draft
        live_id = self.live_version_id(session)
        been_live = select(TrainedModel.content_version_id).where(TrainedModel.ever_live == 1)
        trained = session.execute(
            select(ContentVersion).join(Training, Training.content_version_id == ContentVersion.id)
            .where(ContentVersion.id > live_id, ContentVersion.state == "frozen",
                   ContentVersion.id.not_in(been_live))
            .order_by(ContentVersion.id.desc())).scalars().unique()
        for version in trained:
            parent, seen = version, set()
            while parent is not None and parent.id not in seen:  # descends from live?
                if parent.id == live_id:
                    return version
                seen.add(parent.id)
                parent = session.get(ContentVersion, parent.parent_id) if parent.parent_id else None
        return session.get(ContentVersion, live_id)

    def _version(self, session: Session, which: int | str) -> ContentVersion:
        """'live', 'draft' (what the next edit starts from, see _working) or an id."""
        if which == "draft":
            return self._working(session)
        if which == "live":
            return session.get(ContentVersion, self.live_version_id(session))
        row = session.get(ContentVersion, int(which))
        if row is None:
            raise NotFound(f"content version {which}")
        return row

    def files(self, which: int | str = "draft") -> dict[str, str]:
        with self._sessions.begin() as s:
            return dict(self._version(s, which).files)

    def versions(self) -> list[dict]:
        with self._sessions.begin() as s:
            live = self.live_version_id(s)
            rows = s.execute(select(ContentVersion).order_by(ContentVersion.id.desc())).scalars().all()
            return [self._info(r, live).as_json() for r in rows]

    def info(self, which: int | str) -> dict:
        with self._sessions.begin() as s:
            return self._info(self._version(s, which), self.live_version_id(s)).as_json()

    @staticmethod
    def _info(r: ContentVersion, live: int) -> VersionInfo:
        return VersionInfo(r.id, r.state, r.parent_id, r.content_hash, r.created_by,
                           r.created_at.isoformat() if r.created_at else "", list(r.editors or []),
                           r.note, r.id == live)

    def bundle_ids(self, which: int | str = "draft") -> list[str]:
        return sorted(rel[len("bundles/"):-4] for rel in self.files(which)
                      if rel.startswith("bundles/") and rel.endswith(".yml"))

    def bundle(self, bundle_id: str, which: int | str = "draft") -> dict:
        text = self.files(which).get(f"bundles/{bundle_id}.yml")
        if text is None:
            raise NotFound(f"bundle {bundle_id}")
        return yaml.safe_load(text)

    def document(self, name: str, which: int | str = "draft") -> Any:
        rel = self.document_file(name)
        text = self.files(which).get(rel)
        if text is None:
            raise NotFound(name)
        return yaml.safe_load(text)

    @staticmethod
    def document_file(name: str) -> str:
        if name in DOCUMENTS:
            return DOCUMENTS[name]
        if FORM_RE.match(name) or NLU_RE.match(name):
            return f"{name}.yml"
        raise NotFound(name)

    def diff(self, old: int | str = "live", new: int | str = "draft") -> list[dict]:
        return diff_files(self.files(old), self.files(new))

    # editing (each edit: whole draft validated, saved in one transaction with its audit entry)
    def _edit(self, actor: Actor, what: str, change, detail: dict) -> dict:
        with self._sessions.begin() as s:
            draft = self._draft(s)
            base = self._working(s)
            files = copy.deepcopy(dict(base.files))
            change(files)
            problems = validate(files)
            if problems:
                raise ContentInvalid(problems)
            if draft is None:
                # on top of a trained, unpublished version its editors stay editors (four eyes)
                carried = [] if base.id == self.live_version_id(s) else list(base.editors or [])
                draft = ContentVersion(parent_id=base.id, state="draft", files=files, created_at=now(),
                                       created_by=actor.name, editors=carried, content_hash="")
                s.add(draft)
            draft.files = files
            draft.content_hash = files_hash(files)
            if actor.name not in (draft.editors or []):
                draft.editors = [*(draft.editors or []), actor.name]
            s.flush()
            self._audit.record("editor.edit", actor=actor, target=f"content:{draft.id}",
                               detail={"what": what, **detail}, session=s)
            return {"version": draft.id}

    def put_bundle(self, bundle_id: str, body: Any, actor: Actor) -> dict:
        if not ID_RE.match(bundle_id):
            raise ContentInvalid([_problem("id", "ids are lower-case letters, digits and _ (e.g. kindergarten_enrolment)")])
        if not isinstance(body, dict):
            raise ContentInvalid([_problem("", "a bundle is a JSON object in the shape of data/bundles/<id>.yml")])
        if body.get("id") != bundle_id:
            raise ContentInvalid([_problem("id", f"must be '{bundle_id}', the id in the address")])

        def change(files):
            files[f"bundles/{bundle_id}.yml"] = _dump(body)
        return self._edit(actor, "bundle", change, {"bundle": bundle_id})

    def add_synonym(self, bundle_id: str, text: Any, actor: Actor) -> dict:
        if not isinstance(text, str) or not text.strip() or len(text) > 40 or "\n" in text:
            raise ContentInvalid([_problem("text", "a synonym is one short phrase (at most 40 characters)")])
        text = text.strip()
        raw = self.bundle(bundle_id)
        if text in (raw.get("synonyms") or []) or text == raw.get("name"):
            raise ContentInvalid([_problem("text", f"'{text}' already names this bundle")])
        raw["synonyms"] = [*(raw.get("synonyms") or []), text]

        def change(files):
            files[f"bundles/{bundle_id}.yml"] = _dump(raw)
        return self._edit(actor, "synonym", change, {"bundle": bundle_id, "text": text})

    def put_document(self, name: str, body: Any, actor: Actor) -> dict:
        rel = self.document_file(name)
        if not isinstance(body, (dict, list)):
            raise ContentInvalid([_problem("", f"{rel} is a JSON object in the shape of data/{rel}")])

        def change(files):
            files[rel] = _dump(body)
        return self._edit(actor, "document", change, {"file": rel})

    def add_example(self, intent: Any, text: Any, actor: Actor) -> dict:
        problems = example_problems(intent, text)
        if problems:
            raise ContentInvalid(problems)
        text = text.strip()

        def change(files):
            raw = yaml.safe_load(files.get(EDITOR_EXAMPLES) or "") or {}
            blocks = raw.setdefault("nlu", [])
            block = next((b for b in blocks if b.get("intent") == intent), None)
            if block is None:
                block = {"intent": intent, "examples": ""}
                blocks.append(block)
            lines = [ln for ln in str(block["examples"]).splitlines() if ln.strip()]
            if f"- {text}" in lines:
                raise ContentInvalid([_problem("text", "this example is already there")])
            block["examples"] = "\n".join([*lines, f"- {text}"]) + "\n"
            files[EDITOR_EXAMPLES] = _dump({"version": "3.1", **raw})
        return self._edit(actor, "nlu_example", change, {"intent": intent, "text": text})

    def discard_draft(self, actor: Actor) -> bool:
        with self._sessions.begin() as s:
            draft = self._draft(s)
            if draft is None:
                return False
            draft.state = "discarded"
            self._audit.record("editor.discard", actor=actor, target=f"content:{draft.id}", session=s)
            return True

    def freeze(self, session: Session, which: int | str = "draft") -> ContentVersion:
        """The version a training reads: the draft becomes frozen (later edits start a new draft)."""
        row = self._version(session, which)
        if row.state == "draft":
            row.state = "frozen"
        session.flush()
        return row

    # data/ ⇄ versions
    def export(self, which: int | str = "live", data_dir: Path = DATA_DIR) -> list[str]:
        """Write a version into data/ (for git): files it has are written, editable files it
        lacks are removed. Returns the files written or removed."""
        files = self.files(which)
        current = snapshot(data_dir)
        touched = []
        for rel in sorted(set(current) - set(files)):
            (data_dir / rel).unlink()
            touched.append(rel)
        for rel, text in files.items():
            if current.get(rel) != text:
                path = data_dir / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                touched.append(rel)
        return touched

    def import_(self, actor: Actor, data_dir: Path = DATA_DIR) -> dict:
        """data/ as the new draft (validated first; the live version is untouched)."""
        files = snapshot(data_dir)
        problems = validate(files)
        if problems:
            raise ContentInvalid(problems)
        with self._sessions.begin() as s:
            draft = self._draft(s)
            live = self.live_version_id(s)
            if draft is None:
                draft = ContentVersion(parent_id=live, state="draft", created_at=now(), created_by=actor.name,
                                       editors=[], files={}, content_hash="")
                s.add(draft)
            draft.files, draft.content_hash = files, files_hash(files)
            draft.note = f"imported from {data_dir}"
            draft.editors = sorted({*(draft.editors or []), actor.name})
            s.flush()
            self._audit.record("editor.import", actor=actor, target=f"content:{draft.id}", session=s)
            return {"version": draft.id}


def live_knowledge_base(sessions: sessionmaker | None = None):
    """The KnowledgeBase of the live content version once something was published through
    the console (None before: data/ is live)."""
    from bot.kb.loader import load_knowledge_base

    sessions = sessions or session_factory()
    try:
        with sessions.begin() as s:
            live = s.get(ContentLive, 1)
            if live is None or live.published_by == "system":
                return None
            files = dict(s.get(ContentVersion, s.get(TrainedModel, live.model_id).content_version_id).files)
    except Exception:  # noqa: BLE001 - before migration 0009: data/
        return None
    with materialised(files) as data_dir:
        return load_knowledge_base(data_dir)


def export_to(files: dict[str, str], data_dir: Path) -> None:
    """Replace the editable files of `data_dir` by `files` (a training workspace)."""
    for rel in snapshot(data_dir):
        (data_dir / rel).unlink()
    materialise(files, data_dir)


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, dirs_exist_ok=True)
