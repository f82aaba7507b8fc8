"""Seeding: idempotent, validated with file and line, and never half-written."""

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db import session_scope
from bot.kb.loader import KnowledgeBaseError, load_knowledge_base
from bot.kb.seed import seed
from bot.migrate import upgrade
from bot.models import Bundle, BundleItem, ItemMaterial, Synonym

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_copy(tmp_path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(ROOT / "data", dst, ignore=shutil.ignore_patterns("nlu"))
    return dst


@pytest.fixture
def db_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    upgrade(url)
    return url


def counts(url):
    with session_scope(url) as s:
        return tuple(s.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (Bundle, BundleItem, ItemMaterial, Synonym))


def edit(path: Path, old: str, new: str) -> int:
    text = path.read_text(encoding="utf-8")
    assert old in text
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def test_seed_is_idempotent(db_url):
    with session_scope(db_url) as s:
        assert seed(s) is True
    first = counts(db_url)
    with session_scope(db_url) as s:
        assert seed(s) is False
    assert counts(db_url) == first
    assert first[0] == 13 and first[1] == 66


def test_reseed_after_edit_changes_content(db_url, data_copy):
    with session_scope(db_url) as s:
        seed(s, load_knowledge_base(data_copy))
    edit(data_copy / "bundles" / "newborn.yml", "name: 预防接种证办理", "name: 预防接种证办理（新）")
    with session_scope(db_url) as s:
        assert seed(s, load_knowledge_base(data_copy)) is True
        names = s.execute(select(BundleItem.name).where(BundleItem.bundle_id == "newborn")).scalars().all()
    assert "预防接种证办理（新）" in names


def test_unknown_department_names_file_and_line(data_copy):
    path = data_copy / "bundles" / "newborn.yml"
    line = edit(path, "department: gd_public_security", "department: gd_nowhere")
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(data_copy)
    assert (f"{path}:{line}: items[2].department: item 'birth_hukou_registration': "
            "unknown department 'gd_nowhere'") in str(err.value)
    assert {"file": str(path), "line": line, "field": "items[2].department",
            "message": "item 'birth_hukou_registration': unknown department 'gd_nowhere'"} in err.value.details


def test_duplicate_item_id(data_copy):
    path = data_copy / "bundles" / "newborn.yml"
    line = edit(path, "- id: vaccination_certificate", "- id: birth_medical_certificate")
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(data_copy)
    assert f"{path}:{line}: items[1].id: duplicate item id 'birth_medical_certificate'" in str(err.value)


def test_duplicate_bundle_id(data_copy):
    src = data_copy / "bundles" / "newborn.yml"
    (data_copy / "bundles" / "newborn_copy.yml").write_text(src.read_text(encoding="utf-8"))
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(data_copy)
    message = str(err.value)
    assert "must match the file name" in message and "newborn_copy.yml" in message
    assert "duplicate bundle id 'newborn'" in message


def test_item_without_materials(data_copy):
    path = data_copy / "bundles" / "enterprise_deregistration.yml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  materials:", text.index("- id: tax_deregistration"))
    end = text.index("  time_limit:", start)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    line = text[: text.index("- id: tax_deregistration")].count("\n") + 1
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(data_copy)
    assert f"{path}:{line}: items[0].materials: item 'tax_deregistration' has no materials" in str(err.value)


def test_broken_yaml_reports_the_line(data_copy):
    path = data_copy / "bundles" / "after_death.yml"
    path.write_text(path.read_text(encoding="utf-8") + "\n  bad: [unclosed\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=r"after_death\.yml:\d+: not valid YAML"):
        load_knowledge_base(data_copy)


def test_invalid_content_writes_nothing(db_url, data_copy):
    with session_scope(db_url) as s:
        seed(s)
    before = counts(db_url)
    edit(data_copy / "bundles" / "after_death.yml", "department: gd_civil_affairs", "department: gd_x")
    with pytest.raises(KnowledgeBaseError), session_scope(db_url) as s:
        seed(s, load_knowledge_base(data_copy))
    assert counts(db_url) == before


def test_failure_midway_rolls_back(db_url, data_copy, monkeypatch):
    with session_scope(db_url) as s:
        seed(s)
    before = counts(db_url)
    kb = load_knowledge_base(data_copy)
    edit(data_copy / "bundles" / "newborn.yml", "name: 新生儿出生", "name: 新生儿出生一件事")
    kb = load_knowledge_base(data_copy)
    # a database error in the middle of the write (here: a material the DB does not know)
    bad = kb.materials.copy()
    bad.pop("id_card")
    broken = type(kb)(departments=kb.departments, materials=bad, bundles=kb.bundles,
                      content_hash="broken", items_by_global_id=kb.items_by_global_id)
    with pytest.raises(Exception), session_scope(db_url) as s:  # noqa: B017
        seed(s, broken)
    assert counts(db_url) == before
    with session_scope(db_url) as s:
        assert s.execute(select(Bundle.name).where(Bundle.id == "newborn")).scalar_one() == "新生儿出生"
