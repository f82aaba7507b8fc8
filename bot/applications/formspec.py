"""The merged form (一表申请) of each bundle, defined as data in data/forms/.

`fields.yml` is the catalogue of fields shared by all bundles (the applicant is
asked once, whatever items are chosen); `<bundle>.yml` lists the bundle's fields
in the order they are asked, each tied to the items that need it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.config import DATA_DIR

FORMS_DIR = DATA_DIR / "forms"
TYPES = {"name", "id_number", "phone", "date", "text", "address", "choice", "code", "number"}
_KEYS = {"id", "use", "label", "type", "prompt", "aliases", "items", "unless_chosen", "prefill",
         "options", "pattern", "example", "max_len", "min", "max", "unit", "not_future",
         "not_past", "after_birth_of", "optional", "help", "option_aliases"}


class FormSpecError(ValueError):
    pass


@dataclass(frozen=True)
class FieldSpec:
    id: str
    label: str
    type: str
    prompt: str = ""
    aliases: tuple[str, ...] = ()
    items: tuple[str, ...] | None = None  # None: every item needs it
    unless_chosen: tuple[str, ...] = ()   # not asked when one of these items is chosen
    prefill: str | None = None            # key in the citizen's shared-data record
    options: tuple[str, ...] = ()
    option_aliases: tuple[tuple[str, str], ...] = ()  # (word, option)
    pattern: str | None = None
    example: str | None = None
    max_len: int = 100
    min: float | None = None
    max: float | None = None
    unit: str = ""
    not_future: bool = False
    not_past: bool = False
    after_birth_of: str | None = None     # an id_number field whose birth date comes first
    optional: bool = False
    help: str = ""

    @property
    def question(self) -> str:
        if self.prompt:
            return self.prompt
        if self.type == "choice":
            return f"请选择{self.label}："
        return f"请输入{self.label}" + (f"（例如 {self.example}）" if self.example else "") + "："

    @property
    def names(self) -> tuple[str, ...]:
        """Words a citizen may use for this field, longest first (for edits)."""
        return tuple(sorted({self.label, *self.aliases}, key=len, reverse=True))

    @property
    def personal(self) -> bool:
        """Shown masked wherever it is shown (bot.applications.render.show_value)."""
        return self.type in ("id_number", "phone", "name", "address")


@dataclass(frozen=True)
class FormSpec:
    bundle_id: str
    fields: tuple[FieldSpec, ...]
    source: str = ""
    intro: str = ""

    def field(self, field_id: str) -> FieldSpec:
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(field_id)

    def fields_for(self, items: list[str] | set[str] | tuple[str, ...]) -> list[FieldSpec]:
        """The fields the chosen items need, each once, in asking order."""
        chosen = set(items)
        return [f for f in self.fields
                if (f.items is None or chosen & set(f.items)) and not chosen & set(f.unless_chosen)]


def _line(node) -> int:
    return getattr(getattr(node, "start_mark", None), "line", -1) + 1


def _field(raw: dict, where: str, catalogue: dict[str, FieldSpec] | None) -> FieldSpec:
    unknown = set(raw) - _KEYS
    if unknown:
        raise FormSpecError(f"{where}: unknown key(s) {sorted(unknown)}")
    if "use" in raw:
        if catalogue is None or raw["use"] not in catalogue:
            raise FormSpecError(f"{where}: `use: {raw['use']}` is not in data/forms/fields.yml")
        base = catalogue[raw["use"]]
        extra = {k: v for k, v in raw.items() if k != "use"}
        return _field({**_as_dict(base), **extra}, where, None)
    for key in ("id", "label", "type"):
        if not raw.get(key):
            raise FormSpecError(f"{where}: field needs `{key}`")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", str(raw["id"])):
        raise FormSpecError(f"{where}: field id {raw['id']!r} must be snake_case")
    if raw["type"] not in TYPES:
        raise FormSpecError(f"{where}: type {raw['type']!r} is not one of {sorted(TYPES)}")
    if raw["type"] == "choice" and not raw.get("options"):
        raise FormSpecError(f"{where}: a choice field needs `options`")
    if raw.get("pattern"):
        try:
            re.compile(raw["pattern"])
        except re.error as exc:
            raise FormSpecError(f"{where}: bad pattern: {exc}") from None
    tuples = {k: tuple(raw[k]) for k in ("aliases", "options", "unless_chosen") if raw.get(k)}
    items = tuple(raw["items"]) if raw.get("items") is not None else None
    aliases = raw.get("option_aliases") or ()
    if isinstance(aliases, dict):
        bad = set(aliases) - set(raw.get("options") or ())
        if bad:
            raise FormSpecError(f"{where}: option_aliases for unknown option(s) {sorted(bad)}")
        aliases = tuple((w, opt) for opt, words in aliases.items() for w in words)
    tuples["option_aliases"] = tuple(tuple(a) for a in aliases)
    return FieldSpec(**{**{k: v for k, v in raw.items() if k in FieldSpec.__dataclass_fields__},
                        **tuples, "items": items})


def _as_dict(spec: FieldSpec) -> dict:
    return {k: getattr(spec, k) for k in FieldSpec.__dataclass_fields__}


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FormSpecError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise FormSpecError(f"{path}: expected a mapping")
    return data


def load_forms(items_by_bundle: dict[str, set[str]], forms_dir: Path = FORMS_DIR) -> dict[str, FormSpec]:
    """All bundle forms, validated against the knowledge base's item keys."""
    catalogue_raw = _read(forms_dir / "fields.yml").get("fields") or {}
    catalogue = {fid: _field({"id": fid, **raw}, f"{forms_dir / 'fields.yml'}: {fid}", None)
                 for fid, raw in catalogue_raw.items()}
    forms: dict[str, FormSpec] = {}
    for path in sorted(forms_dir.glob("*.yml")):
        if path.name == "fields.yml":
            continue
        data = _read(path)
        bundle_id = data.get("bundle")
        if bundle_id not in items_by_bundle:
            raise FormSpecError(f"{path}: unknown bundle {bundle_id!r}")
        if bundle_id in forms:
            raise FormSpecError(f"{path}: a second form for {bundle_id}")
        fields: list[FieldSpec] = []
        for n, raw in enumerate(data.get("fields") or [], 1):
            where = f"{path}: field {n} ({raw.get('id') or raw.get('use')})"
            spec = _field(raw, where, catalogue)
            refs = set(spec.items or ()) | set(spec.unless_chosen)
            missing = refs - items_by_bundle[bundle_id]
            if missing:
                raise FormSpecError(f"{where}: unknown item(s) {sorted(missing)} of {bundle_id}")
            if any(f.id == spec.id for f in fields):
                raise FormSpecError(f"{where}: duplicate field id {spec.id}")
            fields.append(spec)
        ids = {f.id for f in fields}
        for f in fields:
            if f.after_birth_of and f.after_birth_of not in ids:
                raise FormSpecError(f"{path}: {f.id}.after_birth_of names unknown field {f.after_birth_of}")
        if not any(f.type == "id_number" and f.id == "applicant_id_number" for f in fields):
            raise FormSpecError(f"{path}: every form asks the applicant's id (use: applicant_id_number)")
        forms[bundle_id] = FormSpec(bundle_id, tuple(fields), str(path), data.get("intro", ""))
    return forms
