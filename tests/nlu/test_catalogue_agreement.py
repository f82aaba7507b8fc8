"""The catalogue of services handled elsewhere and the training data agree.

A training message about a bundle that names a service handled elsewhere more
specifically than any bundle or item name (医保卡里的钱 … after a death) is only
resolved to that bundle when the catalogue lists the bundle as one the service is
confused with: otherwise the model learns one thing and the resolver answers another.
"""

from functools import lru_cache
from pathlib import Path

from bot.kb.elsewhere import load_catalogue
from bot.kb.loader import load_knowledge_base
from nlu.bundle_resolver import BundleResolver
from nlu.gazetteer import Gazetteer
from nlu.normalize import Normalizer, load_table

ROOT = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def examples():
    """(file, intent, bundle, normalised text) of every training message."""
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.nlu_export import export

    export()
    plain = Normalizer(load_table(ROOT / "data" / "normalization.yml"))
    out = []
    for path in sorted((ROOT / "data" / "nlu").rglob("*.yml")):
        for m in load_data(str(path)).intent_examples:
            bundle = next((e["value"] for e in m.get("entities") or [] if e["entity"] == "bundle"), None)
            out.append((path.name, m.get("intent"), bundle, plain(m.get("text"))))
    return out, plain


def gazetteer(plain) -> Gazetteer:
    from rasa.shared.nlu.training_data.loading import load_data

    tables = load_data(str(ROOT / "data" / "nlu")).lookup_tables
    return Gazetteer.from_lookup_tables(
        [dict(t, elements=[plain(str(e)) for e in t.get("elements") or []]) for t in tables])


def test_bundle_messages_naming_a_service_elsewhere_are_ones_it_is_confused_with():
    catalogue = {s.id: s for s in load_catalogue(load_knowledge_base()).services}
    found, plain = examples()
    g = gazetteer(plain)
    problems = []
    for name, _intent, bundle, text in found:
        if not bundle:
            continue
        matches = BundleResolver._words_only(text, g.find(text))
        longest_kb = max((m.size for m in matches if m.kind in ("bundle", "item")), default=0)
        services = [m for m in matches if m.kind == "elsewhere" and m.size > longest_kb]
        if services:
            service = max(services, key=lambda m: m.size)
            if bundle not in catalogue[service.target].confused_with:
                problems.append(f"{name}: {text} → {bundle}, but names {service.target}")
    assert not problems, "\n".join(problems)


def test_a_name_alone_that_is_a_service_elsewhere_is_not_taught_as_a_bundle():
    """失业登记要怎么做 / 生育津贴怎么申请: nothing but the service's name and a question
    word, so it is that service, whatever bundle it is confused with."""
    catalogue = {s.id: s for s in load_catalogue(load_knowledge_base()).services}
    phrases = {p: s.id for s in catalogue.values() for p in s.phrases}
    found, plain = examples()
    g = gazetteer(plain)
    problems = []
    for name, _intent, bundle, text in found:
        if not bundle:
            continue
        matches = g.find(text)
        if any(m.kind in ("bundle", "item") for m in matches):
            continue
        for m in matches:
            rest = text[:m.start] + text[m.end:]
            if m.kind == "elsewhere" and text[m.start:m.end] in phrases and len(rest) <= 4:
                problems.append(f"{name}: {text} → {bundle}")
    assert not problems, "\n".join(problems)
