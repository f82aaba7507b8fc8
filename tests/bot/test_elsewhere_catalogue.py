"""The catalogue of services handled elsewhere: validated against the knowledge base
with file and line, seeded like the bundles, looked up by the answer."""

import dataclasses
import shutil
from pathlib import Path

import pytest

from bot.db import session_scope
from bot.kb.elsewhere import load_catalogue, lookup, seed_catalogue
from bot.kb.loader import KnowledgeBaseError, load_knowledge_base
from bot.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
KB = load_knowledge_base()


@pytest.fixture
def data_copy(tmp_path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(ROOT / "data", dst, ignore=shutil.ignore_patterns("nlu"))
    return dst


def test_catalogue_covers_the_services_people_confuse_with_bundles():
    catalogue = load_catalogue(KB)
    ids = {s.id for s in catalogue.services}
    for sid in ("passport", "driving_licence", "housing_fund_loan", "housing_fund_withdrawal",
                "divorce", "school_admission", "public_rental_housing", "individual_income_tax",
                "medical_reimbursement", "unemployment_benefit", "work_injury", "residence_permit",
                "hukou_talent", "leave", "id_card", "enterprise_change"):
        assert sid in ids
    for s in catalogue.services:
        assert s.phrases and s.office and s.channels, s.id


def test_catalogue_covers_each_department_people_ask_12345_about():
    """Widened department by department (issue 11): 公安, 交警, 人社, 医保, 公积金, 税务,
    市场监管, 住建, 民政, 教育, 卫健, 司法, 退役军人, 水电气和通信, 农业, 生态环境, 文旅, 城管."""
    ids = {s.id for s in load_catalogue(KB).services}
    for sid in ("hukou_documents", "traffic_accident", "motor_vehicle", "talent_services",
                "resident_pension", "long_term_care", "housing_fund_loan", "business_tax",
                "special_equipment", "public_rental_housing", "housing_safety", "social_assistance",
                "education_records", "medical_services", "legal_notary", "military_families",
                "telecom", "utility_bills", "agriculture", "police_report", "environment_complaint",
                "tourism", "city_management"):
        assert sid in ids, sid


def test_a_service_written_twice_is_refused_with_its_line(data_copy):
    # YAML alone keeps the second copy and drops the first one's phrases silently
    path = data_copy / "elsewhere.yml"
    path.write_text(path.read_text(encoding="utf-8") + """  passport:
    name: 护照
    phrases: [护照]
    office: 出入境
    channels: ["12367"]
""", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="duplicate key 'passport'") as err:
        load_catalogue(load_knowledge_base(data_copy), data_copy)
    [problem] = err.value.problems
    assert "elsewhere.yml:" in problem


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_phrase_that_names_a_bundle_is_refused_with_its_line(data_copy):
    # 注销公司 is a synonym of enterprise_deregistration: a phrase belongs to one place
    _replace(data_copy / "elsewhere.yml", "phrases: [护照,", "phrases: [注销公司, 护照,")
    with pytest.raises(KnowledgeBaseError) as err:
        load_catalogue(load_knowledge_base(data_copy), data_copy)
    [problem] = err.value.problems
    assert "elsewhere.yml:" in problem and "注销公司" in problem
    assert "enterprise_deregistration" in problem


@pytest.mark.parametrize(("old", "new", "message"), [
    ('channels: [yueshengshi, "12367"]', 'channels: [nowhere]', "unknown channel 'nowhere'"),
    ("department: gd_civil_affairs", "department: gd_nothing", "unknown department 'gd_nothing'"),
    ("confused_with: [marriage_childbirth]\n", "confused_with: [no_bundle]\n", "unknown bundle 'no_bundle'"),
    ("  passport:\n", "  Passport!:\n", "snake_case"),
])
def test_catalogue_problems_are_reported(data_copy, old, new, message):
    _replace(data_copy / "elsewhere.yml", old, new)
    with pytest.raises(KnowledgeBaseError, match=message):
        load_catalogue(load_knowledge_base(data_copy), data_copy)


def test_seed_and_lookup(tmp_path):
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    upgrade(url)
    catalogue = load_catalogue(KB)
    with session_scope(url) as s:
        assert seed_catalogue(s, catalogue) is True
    with session_scope(url) as s:
        assert seed_catalogue(s, catalogue) is False  # unchanged
        found = lookup(s, "passport")
        # the together pairs only feed the NLU's lookup tables: the table does not keep them
        assert found == dataclasses.replace(catalogue.get("passport"), together=())
        assert lookup(s, "no_such_service") is None
