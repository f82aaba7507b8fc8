"""Read-only views of knowledge-base content handed to actions and APIs."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.kb.situations import Condition, Guide


@dataclass(frozen=True)
class MaterialUseView:
    material_id: str
    name: str
    holder: str
    note: str | None
    conditional: bool
    e_certificate: str | None


@dataclass(frozen=True)
class PrerequisiteView:
    """One prerequisite: any one of `items` (keys within the bundle or 'bundle.item'), or a condition."""

    items: tuple[str, ...] = ()
    item_names: tuple[str, ...] = ()
    condition: str | None = None


@dataclass(frozen=True)
class DepartmentView:
    id: str
    name: str
    national_name: str
    where: str


@dataclass(frozen=True)
class ItemView:
    key: str
    global_id: str
    name: str
    aliases: tuple[str, ...]
    department: DepartmentView
    choice: str
    parallel_group: str | None
    first_step: bool
    in_national_list: bool
    in_guangdong_list: bool
    prerequisites: tuple[PrerequisiteView, ...]
    materials: tuple[MaterialUseView, ...]
    working_days: float | None
    time_limit_committed: str | None
    time_limit_statutory: str | None
    fee: str
    online: str
    online_note: str | None
    results: tuple[str, ...]
    produces: tuple[str, ...]
    notes: tuple[str, ...]
    inferred: tuple[str, ...]
    where: tuple[str, ...] = ()       # kinds of place, the main one first
    where_note: str | None = None
    keywords: tuple[str, ...] = ()    # words naming the item within its bundle (户口, 医保)

    @property
    def optional(self) -> bool:
        return self.choice == "optional"


@dataclass(frozen=True)
class RequirementView:
    """Another bundle to do first, unless the situation answers say it is done."""

    bundle_id: str
    bundle_name: str
    why: str
    unless: Condition = ()


@dataclass(frozen=True)
class BundleView:
    id: str
    name: str
    audience: str
    description: str
    lead_department: DepartmentView
    items: tuple[ItemView, ...]
    synonyms: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    guide: Guide = field(default_factory=Guide)
    requires: tuple[RequirementView, ...] = ()

    def item(self, key: str) -> ItemView:
        for it in self.items:
            if key in (it.key, it.global_id):
                return it
        raise KeyError(key)

    @property
    def parallel_groups(self) -> dict[str, tuple[ItemView, ...]]:
        groups: dict[str, list[ItemView]] = {}
        for it in self.items:
            if it.parallel_group:
                groups.setdefault(it.parallel_group, []).append(it)
        return {k: tuple(v) for k, v in groups.items()}


@dataclass
class MaterialNeed:
    """One document in the merged "一套材料": listed once with every item that needs it."""

    material_id: str
    name: str
    holder: str
    conditional: bool
    used_by: list[str] = field(default_factory=list)  # item keys
    used_by_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    e_certificate: str | None = None
    produced_by: str | None = None  # name of a chosen item that issues this document
