"""Training data: coverage of the contract, and kept apart from the test set."""

import subprocess
import sys
from collections import Counter

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from bot.kb.loader import load_knowledge_base
from bot.model import rasa_env, training_data_paths
from bot.nlu_export import export
from nlu.normalize import Normalizer
from tests.conftest import ROOT

CONTRACT_INTENTS = ["greet", "goodbye", "thank", "affirm", "deny", "list_bundles", "ask_bundle",
                    "ask_materials", "ask_department", "ask_time_limit", "ask_fee", "ask_online",
                    "start_application", "check_status", "request_human", "rate_service",
                    "bot_challenge", "out_of_scope", "inform"]


@pytest.fixture(scope="module")
def training():
    export()
    return load_data(str(ROOT / "data" / "nlu"))


def test_every_contract_intent_has_40_examples(training):
    counts = Counter(m.get("intent") for m in training.intent_examples)
    for intent in CONTRACT_INTENTS:
        assert counts[intent] >= 40, (intent, counts[intent])


def test_every_bundle_has_30_life_event_phrasings(training):
    per_bundle = Counter()
    for m in training.intent_examples:
        if m.get("intent") != "ask_bundle":
            continue
        for e in m.get("entities") or []:
            if e["entity"] == "bundle":
                per_bundle[e["value"]] += 1
    for bundle in load_knowledge_base().bundles:
        assert per_bundle[bundle.id] >= 30, (bundle.id, per_bundle[bundle.id])


def test_bundle_annotations_use_canonical_ids(training):
    ids = {b.id for b in load_knowledge_base().bundles}
    for m in training.intent_examples:
        for e in m.get("entities") or []:
            if e["entity"] == "bundle":
                assert e["value"] in ids, m.get("text")


@pytest.mark.parametrize(("name", "minimum", "allowed"), [
    ("test_set.yml", 300, 0.02),
    # written by someone who never saw data/nlu; a few everyday phrasings coincide
    ("independent_set.yml", 650, 0.03),
    ("dev_set.yml", 250, 0.03),
    # written last, by someone who saw neither data/nlu nor the other sets
    ("fresh_set.yml", 600, 0.03),
])
def test_held_out_sets_are_apart_from_training(training, name, minimum, allowed):
    norm = Normalizer.from_file(ROOT / "data" / "normalization.yml")
    seen = {norm(m.get("text")).strip("?？!！。., ") for m in training.intent_examples}
    cases = yaml.safe_load((ROOT / "tests" / "nlu" / name).read_text(encoding="utf-8"))
    assert len(cases) >= minimum
    overlap = [c["text"] for c in cases
               if len(c["text"]) > 4 and norm(c["text"]).strip("?？!！。., ") in seen]
    assert len(overlap) <= len(cases) * allowed, overlap


def test_independent_sets_do_not_overlap_each_other():
    load = lambda n: yaml.safe_load((ROOT / "tests" / "nlu" / n).read_text(encoding="utf-8"))  # noqa: E731
    names = ("independent_set.yml", "dev_set.yml", "fresh_set.yml")
    # everyday short messages (你好, 不是, 第二个) may well coincide
    texts = {n: {c["text"] for c in load(n) if len(c["text"]) > 4} for n in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not texts[a] & texts[b], (a, b, sorted(texts[a] & texts[b])[:5])


def test_rasa_data_validate_is_clean():
    export()
    data = [str(p) for p in training_data_paths() if p.exists()]
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "data", "validate", "--domain", str(ROOT / "domain.yml"),
         "--data", *data, "--fail-on-warnings"],
        cwd=ROOT, env=rasa_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_form_answers_are_generated_for_every_bundle_and_city():
    """Bare answers to a list's or a form's question (就要A和B, 第二项, 佛山南海) are
    inform, made from the knowledge base and data/places.yml so new items count too."""
    from bot.nlu_export import build_nlu, item_phrases, read_places

    kb = load_knowledge_base()
    places = read_places(ROOT / "data" / "places.yml")
    assert len(places) == 21
    nlu = build_nlu(kb, None, places)
    block = next(b for b in nlu["nlu"] if b.get("intent") == "inform"
                 and "places" in b.get("metadata", {}).get("generated", ""))
    answers = [line[2:] for line in block["examples"].splitlines()]
    for b in kb.bundles:
        names = {min(item_phrases(it.name, it.aliases), key=len) for it in b.items}
        assert any(n in a for a in answers for n in names), b.id
    for city, _districts in places:
        assert any(city in a for a in answers), city
    assert not [a for a in answers if a.startswith(("先办", "我要办", "帮我")) or "申请" in a]
