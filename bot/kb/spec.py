"""Plain, immutable content objects as read from data/ (before or without a database)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.kb.places import Places
from bot.kb.situations import Condition, Guide

CHOICES = ("optional", "mandatory", "parallel_required")
ONLINE = ("yes", "partial", "no")
AUDIENCES = ("enterprise", "personal")


@dataclass(frozen=True)
class DepartmentSpec:
    id: str
    name: str
    national_name: str
    where: str


@dataclass(frozen=True)
class MaterialSpec:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    note: str | None = None
    e_certificate: str | None = None
    is_form: bool = False


@dataclass(frozen=True)
class MaterialUse:
    doc: str
    holder: str
    note: str | None = None
    conditional: bool = False


@dataclass(frozen=True)
class Prerequisite:
    """Either one of `any_of` (global item ids) must be done first, or a condition holds."""

    any_of: tuple[str, ...] = ()
    condition: str | None = None


@dataclass(frozen=True)
class ItemSpec:
    id: str  # within the bundle
    bundle_id: str
    name: str
    department: str
    choice: str
    materials: tuple[MaterialUse, ...]
    fee: str
    online: str
    aliases: tuple[str, ...] = ()
    parallel_group: str | None = None
    first_step: bool = False
    in_national_list: bool = True
    in_guangdong_list: bool = True
    prerequisites: tuple[Prerequisite, ...] = ()
    working_days: float | None = None
    time_limit_committed: str | None = None
    time_limit_statutory: str | None = None
    online_note: str | None = None
    results: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    inferred: tuple[str, ...] = ()
    where: tuple[str, ...] = ()       # kinds of place (data/places.yml), the main one first
    where_note: str | None = None     # e.g. 随父亲或母亲落户，到落户一方的户口所在地办理
    keywords: tuple[str, ...] = ()    # words naming the item once its bundle is known (户口)

    @property
    def global_id(self) -> str:
        return f"{self.bundle_id}.{self.id}"


@dataclass(frozen=True)
class BundleRequirement:
    """Another bundle that must come first (企业准营 needs 企业开办), unless the
    situation answers say it is done."""

    bundle: str
    why: str
    unless: Condition = ()


@dataclass(frozen=True)
class BundleSpec:
    id: str
    name: str
    audience: str
    description: str
    lead_department: str
    items: tuple[ItemSpec, ...]
    source_file: str
    synonyms: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    inferred: tuple[str, ...] = ()
    order: int = 1000
    guide: Guide = field(default_factory=Guide)
    requires: tuple[BundleRequirement, ...] = ()


@dataclass(frozen=True)
class KnowledgeBase:
    departments: dict[str, DepartmentSpec]
    materials: dict[str, MaterialSpec]
    bundles: tuple[BundleSpec, ...]
    content_hash: str = ""
    places: Places = field(default_factory=Places)
    items_by_global_id: dict[str, ItemSpec] = field(default_factory=dict, compare=False)

    def bundle(self, bundle_id: str) -> BundleSpec:
        for b in self.bundles:
            if b.id == bundle_id:
                return b
        raise KeyError(bundle_id)
