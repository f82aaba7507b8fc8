"""Read and validate the content files in data/ into a KnowledgeBase.

Every problem is reported with its file, line and field path
(`data/bundles/after_death.yml:12: items[1].department: unknown department 'x'`),
all at once, and nothing is returned unless the whole content is valid: seeding
never writes half a bundle. `KnowledgeBaseError.details` holds the same problems
as dicts (file, line, field, message) for the editor API.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

from bot.config import DATA_DIR
from bot.kb.places import Places, parse_places
from bot.kb.situations import ItemFacts, check_guide, parse_guide
from bot.kb.spec import (
    AUDIENCES,
    CHOICES,
    ONLINE,
    BundleRequirement,
    BundleSpec,
    DepartmentSpec,
    ItemSpec,
    KnowledgeBase,
    MaterialSpec,
    MaterialUse,
    Prerequisite,
)

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class KnowledgeBaseError(ValueError):
    """Invalid content; `problems` holds one 'file:line: field: message' per
    problem, `details` the same as dicts."""

    def __init__(self, problems: list[str], details: list[dict] | None = None):
        self.problems = problems
        self.details = details or [{"file": "", "line": 0, "field": "", "message": p} for p in problems]
        super().__init__("invalid knowledge base:\n  " + "\n  ".join(problems))


class _Map(dict):
    """A mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    result = _Map()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            # YAML would silently keep the last one: a service or field written twice
            # loses the first copy's phrases without a word
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"found duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


class _Reporter:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.details: list[dict] = []

    def add(self, path: Path, line: int, message: str, field: str = "") -> None:
        self.problems.append(f"{path}:{line}: {field}: {message}" if field else f"{path}:{line}: {message}")
        self.details.append({"file": str(path), "line": line, "field": field, "message": message})


def _line_of(raw: Any, field: str) -> int:
    """The line of a field path like 'situations.rules[2].exclude[0]' in `raw`
    (the deepest mapping on the path that knows its lines)."""
    line = _line(raw)
    node = raw
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        if part.startswith("["):
            index = int(part[1:-1])
            if isinstance(node, list) and index < len(node):
                node = node[index]
                line = _line(node) or line
                continue
            break
        if isinstance(node, dict) and part in node:
            line = _line(node, part) or line
            node = node[part]
            continue
        break
    return line


def _read(path: Path, rep: _Reporter) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        rep.add(path, (mark.line + 1) if mark else 0, f"not valid YAML: {exc}")
    except OSError as exc:
        rep.add(path, 0, f"cannot read: {exc}")
    return None


def _line(obj: Any, key: str | None = None) -> int:
    if isinstance(obj, _Map):
        return obj.key_lines.get(key, obj.line) if key else obj.line
    return 0


def _join(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def _text(m: _Map, key: str, path: Path, rep: _Reporter, required: bool = True, base: str = "") -> str | None:
    value = m.get(key)
    if value is None:
        if required:
            rep.add(path, _line(m), f"missing '{key}'", _join(base, key))
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        rep.add(path, _line(m, key), f"'{key}' must be text", _join(base, key))
        return None
    return str(value).strip()


def _texts(m: _Map, key: str, path: Path, rep: _Reporter, base: str = "") -> tuple[str, ...]:
    value = m.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        rep.add(path, _line(m, key), f"'{key}' must be a list of texts", _join(base, key))
        return ()
    return tuple(str(v).strip() for v in value if str(v).strip())


def _load_departments(path: Path, rep: _Reporter) -> dict[str, DepartmentSpec]:
    raw = _read(path, rep)
    out: dict[str, DepartmentSpec] = {}
    if not isinstance(raw, dict):
        rep.add(path, 1, "expected a mapping of department id to department")
        return out
    for dep_id, d in raw.items():
        if not isinstance(d, dict):
            rep.add(path, _line(raw, dep_id), f"department '{dep_id}' must be a mapping")
            continue
        name, nat, where = (_text(d, k, path, rep, base=str(dep_id)) for k in ("name", "national_name", "where"))
        if name and nat and where:
            out[dep_id] = DepartmentSpec(dep_id, name, nat, where)
    return out


def _load_materials(path: Path, rep: _Reporter) -> dict[str, MaterialSpec]:
    raw = _read(path, rep)
    out: dict[str, MaterialSpec] = {}
    if not isinstance(raw, dict):
        rep.add(path, 1, "expected a mapping of material id to material")
        return out
    for mat_id, m in raw.items():
        if not isinstance(m, dict):
            rep.add(path, _line(raw, mat_id), f"material '{mat_id}' must be a mapping")
            continue
        name = _text(m, "name", path, rep, base=str(mat_id))
        if name:
            out[mat_id] = MaterialSpec(
                id=mat_id,
                name=name,
                aliases=_texts(m, "aliases", path, rep, str(mat_id)),
                note=_text(m, "note", path, rep, required=False, base=str(mat_id)),
                e_certificate=_text(m, "e_certificate", path, rep, required=False, base=str(mat_id)),
                is_form=bool(m.get("form", False)),
            )
    return out


def _load_item(
    raw: _Map,
    base: str,
    bundle_id: str,
    path: Path,
    rep: _Reporter,
    departments: dict[str, DepartmentSpec],
    materials: dict[str, MaterialSpec],
    places: Places,
) -> ItemSpec | None:
    line = _line(raw)
    item_id = _text(raw, "id", path, rep, base=base)
    name = _text(raw, "name", path, rep, base=base)
    if not item_id or not name:
        return None
    if not ID_RE.match(item_id):
        rep.add(path, _line(raw, "id"), f"item id '{item_id}' must be snake_case", f"{base}.id")
    dep = _text(raw, "department", path, rep, base=base)
    if dep and dep not in departments:
        rep.add(path, _line(raw, "department"), f"item '{item_id}': unknown department '{dep}'",
                f"{base}.department")
    choice = _text(raw, "choice", path, rep, required=False, base=base) or "optional"
    if choice not in CHOICES:
        rep.add(path, _line(raw, "choice"), f"item '{item_id}': choice must be one of {CHOICES}", f"{base}.choice")
    group = _text(raw, "parallel_group", path, rep, required=False, base=base)
    if (choice == "parallel_required") != bool(group):
        rep.add(path, line, f"item '{item_id}': parallel_required items need a parallel_group "
                "and only they may have one", f"{base}.parallel_group")
    uses = []
    raw_mats = raw.get("materials") or []
    if not raw_mats:
        rep.add(path, line, f"item '{item_id}' has no materials", f"{base}.materials")
    for n, m in enumerate(raw_mats):
        mp = f"{base}.materials[{n}]"
        if not isinstance(m, dict) or "doc" not in m:
            rep.add(path, _line(m) or line, f"item '{item_id}': each material needs a 'doc'", mp)
            continue
        if m["doc"] not in materials:
            rep.add(path, _line(m, "doc"), f"item '{item_id}': unknown material '{m['doc']}'", f"{mp}.doc")
        uses.append(MaterialUse(
            doc=m["doc"],
            holder=str(m.get("holder") or "申请人"),
            note=m.get("note"),
            conditional=bool(m.get("conditional", False)),
        ))
    prereqs = []
    for n, p in enumerate(raw.get("prerequisites") or []):
        if isinstance(p, dict) and "item" in p:
            prereqs.append(Prerequisite(any_of=(_qualify(str(p["item"]), bundle_id),)))
        elif isinstance(p, dict) and "any_of" in p:
            prereqs.append(Prerequisite(any_of=tuple(_qualify(str(x), bundle_id) for x in p["any_of"])))
        elif isinstance(p, dict) and "condition" in p:
            prereqs.append(Prerequisite(condition=str(p["condition"])))
        else:
            rep.add(path, _line(p) or line, f"item '{item_id}': a prerequisite is "
                    "'item: id', 'any_of: [ids]' or 'condition: text'", f"{base}.prerequisites[{n}]")
    online = _text(raw, "online", path, rep, base=base)
    if online and online not in ONLINE:
        rep.add(path, _line(raw, "online"), f"item '{item_id}': online must be one of {ONLINE}", f"{base}.online")
    fee = _text(raw, "fee", path, rep, base=base)
    tl = raw.get("time_limit") or {}
    produces = _texts(raw, "produces", path, rep, base)
    for doc in produces:
        if doc not in materials:
            rep.add(path, _line(raw, "produces"), f"item '{item_id}': produces unknown material '{doc}'",
                    f"{base}.produces")
    where = _texts(raw, "where", path, rep, base)
    for n, kind in enumerate(where):
        if kind not in places.kinds:
            rep.add(path, _line(raw, "where"), f"item '{item_id}': unknown place kind '{kind}' "
                    "(see data/places.yml)", f"{base}.where[{n}]")
    lists = raw.get("lists") or {}
    return ItemSpec(
        id=item_id,
        bundle_id=bundle_id,
        name=name,
        department=dep or "",
        choice=choice,
        materials=tuple(uses),
        fee=fee or "",
        online=online or "no",
        aliases=_texts(raw, "aliases", path, rep, base),
        parallel_group=group,
        first_step=bool(raw.get("first_step", False)),
        in_national_list=bool(lists.get("national", True)),
        in_guangdong_list=bool(lists.get("guangdong", True)),
        prerequisites=tuple(prereqs),
        working_days=tl.get("working_days"),
        time_limit_committed=tl.get("committed"),
        time_limit_statutory=tl.get("statutory"),
        online_note=raw.get("online_note"),
        results=_texts(raw, "results", path, rep, base),
        produces=produces,
        notes=_texts(raw, "notes", path, rep, base),
        inferred=_texts(raw, "inferred", path, rep, base),
        where=where,
        where_note=_text(raw, "where_note", path, rep, required=False, base=base),
        keywords=_texts(raw, "keywords", path, rep, base),
    )


def _qualify(ref: str, bundle_id: str) -> str:
    return ref if "." in ref else f"{bundle_id}.{ref}"


def _load_requirements(raw: _Map, bundle_id: str, path: Path, rep: _Reporter) -> tuple[BundleRequirement, ...]:
    out = []
    value = raw.get("requires") or []
    if not isinstance(value, list):
        rep.add(path, _line(raw, "requires"), "'requires' must be a list of {bundle, why, unless?}", "requires")
        return ()
    for n, r in enumerate(value):
        base = f"requires[{n}]"
        if not isinstance(r, dict):
            rep.add(path, _line(raw, "requires"), "each requirement is {bundle, why, unless?}", base)
            continue
        other = _text(r, "bundle", path, rep, base=base)
        why = _text(r, "why", path, rep, base=base)
        unless = r.get("unless") or {}
        if not isinstance(unless, dict):
            rep.add(path, _line(r, "unless"), "'unless' maps questions to the choices that mean it is done",
                    f"{base}.unless")
            unless = {}
        if other == bundle_id:
            rep.add(path, _line(r, "bundle"), "a bundle cannot require itself", f"{base}.bundle")
        if other and why:
            out.append(BundleRequirement(other, why, tuple(
                (str(q), tuple(v if isinstance(v, list) else [v])) for q, v in unless.items())))
    return tuple(out)


def _load_bundle(path: Path, rep: _Reporter, departments, materials, places: Places,
                 raw: Any = None) -> BundleSpec | None:
    raw = _read(path, rep) if raw is None else raw
    if raw is None:
        return None
    if not isinstance(raw, dict):
        rep.add(path, 1, "a bundle file must be a mapping")
        return None
    bundle_id = _text(raw, "id", path, rep)
    name = _text(raw, "name", path, rep)
    if not bundle_id or not name:
        return None
    if not ID_RE.match(bundle_id):
        rep.add(path, _line(raw, "id"), f"bundle id '{bundle_id}' must be snake_case", "id")
    if path.stem != bundle_id:
        rep.add(path, _line(raw, "id"), f"bundle id '{bundle_id}' must match the file name", "id")
    audience = _text(raw, "audience", path, rep)
    if audience and audience not in AUDIENCES:
        rep.add(path, _line(raw, "audience"), f"audience must be one of {AUDIENCES}", "audience")
    lead = _text(raw, "lead_department", path, rep)
    if lead and lead not in departments:
        rep.add(path, _line(raw, "lead_department"), f"unknown department '{lead}'", "lead_department")
    items: list[ItemSpec] = []
    seen: set[str] = set()
    raw_items = raw.get("items") or []
    if not raw_items:
        rep.add(path, _line(raw), f"bundle '{bundle_id}' has no items", "items")
    for n, raw_item in enumerate(raw_items):
        if not isinstance(raw_item, dict):
            rep.add(path, _line(raw, "items"), "each item must be a mapping", f"items[{n}]")
            continue
        item = _load_item(raw_item, f"items[{n}]", bundle_id, path, rep, departments, materials, places)
        if item is None:
            continue
        if item.id in seen:
            rep.add(path, _line(raw_item, "id"), f"duplicate item id '{item.id}' in bundle '{bundle_id}'",
                    f"items[{n}].id")
            continue
        seen.add(item.id)
        items.append(item)
    requires = _load_requirements(raw, bundle_id, path, rep)
    guide, problems = parse_guide(raw.get("situations"))
    if not problems:
        facts = [ItemFacts(
            key=it.id,
            materials=tuple((u.doc, u.holder, u.conditional) for u in it.materials),
            prerequisites=tuple(
                tuple(ref.split(".", 1)[1] for ref in p.any_of if ref.startswith(f"{bundle_id}."))
                for p in it.prerequisites if p.any_of and all(r.startswith(f"{bundle_id}.") for r in p.any_of)),
            parallel_group=it.parallel_group,
        ) for it in items]
        problems = check_guide(guide, facts, places.kinds,
                               used_elsewhere={q for r in requires for q, _ in r.unless})
    for field_path, message in problems:
        rep.add(path, _line_of(raw, field_path), message, field_path)
    return BundleSpec(
        id=bundle_id,
        name=name,
        audience=audience or "personal",
        description=_text(raw, "description", path, rep) or "",
        lead_department=lead or "",
        items=tuple(items),
        source_file=str(path),
        synonyms=_texts(raw, "synonyms", path, rep, ""),
        channels=_texts(raw, "channels", path, rep, ""),
        notes=_texts(raw, "notes", path, rep, ""),
        inferred=_texts(raw, "inferred", path, rep, ""),
        order=int(raw.get("order", 1000)),
        guide=guide,
        requires=requires,
    )


def _cross_checks(bundles: list[BundleSpec], rep: _Reporter) -> dict[str, ItemSpec]:
    by_gid: dict[str, ItemSpec] = {}
    bundle_files: dict[str, str] = {}
    for b in bundles:
        if b.id in bundle_files:
            rep.add(Path(b.source_file), 1, f"duplicate bundle id '{b.id}' (also in {bundle_files[b.id]})")
        bundle_files[b.id] = b.source_file
        for it in b.items:
            by_gid[it.global_id] = it
    synonym_owner: dict[str, str] = {}
    for b in bundles:
        for s in (b.name, *b.synonyms):
            other = synonym_owner.setdefault(s, b.id)
            if other != b.id:
                rep.add(Path(b.source_file), 1, f"synonym '{s}' names both '{other}' and '{b.id}'")
        for it in b.items:
            for p in it.prerequisites:
                for ref in p.any_of:
                    if ref not in by_gid:
                        rep.add(Path(b.source_file), 1, f"item '{it.id}': prerequisite '{ref}' is not a known item")
    by_id = {b.id: b for b in bundles}
    for b in bundles:
        questions = {q.id: q for q in b.guide.questions}
        for n, r in enumerate(b.requires):
            field = f"requires[{n}]"
            if r.bundle not in by_id:
                rep.add(Path(b.source_file), 1, f"'{r.bundle}' is not a known bundle", f"{field}.bundle")
            for q, choices in r.unless:
                if q not in questions:
                    rep.add(Path(b.source_file), 1, f"'{q}' is not a question of this bundle", f"{field}.unless.{q}")
                    continue
                for c in choices:
                    if c not in questions[q].choice_ids:
                        rep.add(Path(b.source_file), 1, f"'{c}' is not a choice of '{q}'", f"{field}.unless.{q}")

    def visit_bundle(bid: str, trail: tuple[str, ...]) -> None:
        if bid in trail:
            rep.add(Path(by_id[trail[0]].source_file), 1,
                    "bundle prerequisite cycle: " + " → ".join((*trail, bid)), "requires")
            raise _Cycle
        for r in by_id[bid].requires if bid in by_id else ():
            visit_bundle(r.bundle, (*trail, bid))

    for bid in by_id:
        try:
            visit_bundle(bid, ())
        except _Cycle:
            break

    # prerequisites must not loop
    def visit(gid: str, trail: tuple[str, ...]) -> None:
        if gid in trail:
            item = by_gid[trail[0]]
            rep.add(Path(bundle_of(item)), 1, "prerequisite cycle: " + " → ".join((*trail, gid)))
            raise _Cycle
        for p in by_gid[gid].prerequisites:
            for ref in p.any_of:
                if ref in by_gid:
                    visit(ref, (*trail, gid))

    def bundle_of(item: ItemSpec) -> str:
        return next(b.source_file for b in bundles if b.id == item.bundle_id)

    for gid in by_gid:
        try:
            visit(gid, ())
        except _Cycle:
            break
    return by_gid


class _Cycle(Exception):
    pass


def content_files(data_dir: Path = DATA_DIR) -> list[Path]:
    return [data_dir / "departments.yml", data_dir / "materials.yml", data_dir / "places.yml",
            *sorted((data_dir / "bundles").glob("*.yml"))]


def _load_places(path: Path, rep: _Reporter) -> Places:
    raw = _read(path, rep)
    if raw is None:
        return Places()
    places, problems = parse_places(raw)
    for field_path, message in problems:
        rep.add(path, _line_of(raw, field_path), message, field_path)
    return places


def content_hash(data_dir: Path = DATA_DIR) -> str:
    h = hashlib.sha256()
    for p in content_files(data_dir):
        h.update(p.name.encode())
        h.update(p.read_bytes() if p.exists() else b"")
    return h.hexdigest()


def load_knowledge_base(data_dir: Path = DATA_DIR, bundles: dict[str, Any] | None = None) -> KnowledgeBase:
    """Load and validate everything; raise KnowledgeBaseError listing all problems.

    `bundles` replaces or adds bundles given as parsed JSON/YAML (bundle id →
    the mapping in the shape of data/bundles/<id>.yml), e.g. an editor's draft;
    their problems name the field path (lines are 0)."""
    rep = _Reporter()
    departments = _load_departments(data_dir / "departments.yml", rep)
    materials = _load_materials(data_dir / "materials.yml", rep)
    places = _load_places(data_dir / "places.yml", rep)
    files = {p.stem: p for p in sorted((data_dir / "bundles").glob("*.yml"))}
    given = dict(bundles or {})
    if not files and not given:
        rep.add(data_dir / "bundles", 0, "no bundle files")
    loaded = []
    for stem in sorted({*files, *given}):
        path = files.get(stem, data_dir / "bundles" / f"{stem}.yml")
        b = _load_bundle(path, rep, departments, materials, places, given.get(stem))
        if b is not None:
            loaded.append(b)
    loaded.sort(key=lambda b: (b.order, b.id))
    by_gid = _cross_checks(loaded, rep)
    if rep.problems:
        raise KnowledgeBaseError(rep.problems, rep.details)
    h = content_hash(data_dir)
    if given:
        h = hashlib.sha256((h + json.dumps(given, sort_keys=True, ensure_ascii=False, default=str))
                           .encode()).hexdigest()
    return KnowledgeBase(
        departments=departments,
        materials=materials,
        bundles=tuple(loaded),
        content_hash=h,
        places=places,
        items_by_global_id=by_gid,
    )


def check_bundle(raw: Any, data_dir: Path = DATA_DIR) -> list[dict]:
    """Problems of one bundle given as JSON (the editor's PUT body), checked
    against the rest of the content: [] when valid, else dicts with file,
    line, field and message."""
    bundle_id = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(bundle_id, str) or not bundle_id:
        return [{"file": "", "line": 0, "field": "id", "message": "missing 'id'"}]
    try:
        load_knowledge_base(data_dir, {bundle_id: raw})
    except KnowledgeBaseError as exc:
        return exc.details
    return []
