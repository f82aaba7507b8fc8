"""Generate NLU resources from the knowledge base, so content edits reach the model.

Writes (never edited by hand, not committed):
- data/nlu/generated/kb.yml: lookup tables `bundle:<id>` and `item:<bundle>.<item>` (used by the
  RegexFeaturizer and the BundleResolver), entity synonyms for `bundle` and
  `item`, and a modest set of templated questions about each item;
- build/jieba/yjs.dict: a Jieba user dictionary so names stay single tokens.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml

from bot.config import BUILD_DIR, DATA_DIR
from bot.kb.elsewhere import Catalogue, load_catalogue
from bot.kb.loader import load_knowledge_base
from bot.kb.spec import KnowledgeBase

_PAREN = re.compile(r"[（(]([^）)]*)[）)]")

# Templates for generated item questions; {x} is an item name or alias.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "ask_materials": ("{x}要带什么材料", "办{x}需要哪些资料", "{x}要准备什么证件"),
    "ask_department": ("{x}去哪里办", "{x}在哪个部门办理", "{x}找哪个单位"),
    "ask_time_limit": ("{x}要多久", "{x}几个工作日办好", "{x}要等几天"),
    "ask_fee": ("{x}收费吗", "办{x}要多少钱", "{x}要交费吗"),
    "ask_online": ("{x}可以网上办吗", "{x}能在手机上办吗", "{x}要跑现场吗"),
}


def item_phrases(name: str, aliases: tuple[str, ...]) -> list[str]:
    """The item's name, the name without its parenthesis, and its aliases."""
    out = [name]
    bare = _PAREN.sub("", name).strip()
    if bare and bare != name:
        out.append(bare)
    out += list(aliases)
    return list(dict.fromkeys(p for p in out if p))


def annotate(text: str, entity: str, value: str) -> str:
    """Rasa's inline entity annotation with a synonym value."""
    return f"[{text}]" + json.dumps({"entity": entity, "value": value}, ensure_ascii=False)


def _pick(seq: tuple[str, ...], key: str) -> str:
    return seq[int(hashlib.sha1(key.encode()).hexdigest(), 16) % len(seq)]


# Department questions citizens ask as alternatives or about who is in charge.
DEPARTMENT_SHAPES = ("{x}是去{a}办还是去{b}办", "{x}归哪个部门管", "{x}找谁", "{x}归{a}管吗",
                     "{x}是{a}负责还是{b}负责", "{x}到底找{a}还是{b}", "{x}该找哪个单位",
                     "{x}由谁负责", "{x}去{a}还是{b}")

# Questions about one document of an item: {x} the item, {m} the document.
MATERIAL_SHAPES = ("{x}要{m}吗", "{x}需要提供{m}吗", "{x}的{m}要原件还是复印件", "办{x}要不要{m}",
                   "{x}除了{m}还要什么", "{x}带{m}就行了吗", "{x}{m}要几份")
DOCUMENT_ENDINGS = ("证", "书", "表", "件", "照", "片", "明", "议", "同", "本", "簿", "卡", "单", "据", "函")


def material_names(m) -> list[str]:
    """Short names of a document as people say them: aliases, the name without its
    brackets, its parts (a/b, a或b) and the document words in it (诊断书 …)."""
    import jieba

    jieba.setLogLevel(60)
    bare = re.sub(r"[《》]", "", _PAREN.sub("", m.name)).strip()
    out = [*m.aliases, bare, *re.split(r"[/、或]", bare)]
    out += [w for w in jieba.lcut(bare) if len(w) >= 2 and w.endswith(DOCUMENT_ENDINGS)]
    return [p for p in dict.fromkeys(p.strip() for p in out) if 2 <= len(p) <= 8
            and not re.search(r"[\s（）()，,。；;“”]", p)]


# How citizens name the offices they go to (beside the departments' own names).
OFFICES = ("税务局", "市监局", "市场监管局", "工商局", "社保局", "人社局", "医保局", "住建局", "房管局",
           "不动产登记中心", "公积金中心", "公积金管理中心", "派出所", "公安局", "民政局", "婚姻登记处",
           "残联", "退役军人事务局", "武装部", "卫健局", "医院", "街道办", "居委会", "村委会",
           "政务服务中心", "政务中心", "行政服务中心", "办事大厅", "消防局", "城管局", "供电局",
           "自来水公司", "燃气公司", "殡仪馆", "银行")

# Out-of-scope questions generated from the catalogue of services handled elsewhere.
ELSEWHERE_TEMPLATES = ("{x}去哪里办", "{x}要什么材料", "{x}怎么办理", "请问{x}找哪个部门",
                       "{x}要多久", "{x}可以网上办吗", "想问下{x}")


TOGETHER_TEMPLATES = ("{x}{y}了怎么办", "{x}{y}去哪里办", "{x}要{y}怎么弄", "想问{x}{y}的事",
                      "{x}{y}要什么手续")


# A life event told first, then the question ("老人走了，死亡证明要带什么"): what is
# asked decides the intent, whatever the story around it.
STORY_SHAPES = ("{s}，{q}", "{s}了，想问下{q}", "我这边{s}，{q}", "{s}，请问{q}", "家里{s}，{q}啊")


# Answers to a form's or a list's question, with no question of their own: a bare
# choice (第二项和第四项, 就要A和B) or a place. A choice with a verb of doing (先办1和3,
# 帮我申请) asks to apply instead (situations.yml); the dialogue takes both.
CHOICE_SHAPES = ("就要{x}和{y}", "只要{x}", "{x}和{y}", "{x}跟{y}就行", "要{x}，{y}不用", "{x}就可以了",
                 "就{x}一个", "{x}同{y}")
ORDINAL_SHAPES = ("第{n}项", "第{n}个和第{m}个", "第{n}、第{m}项", "选{n}和{m}", "要第{n}个", "第{n}和第{m}个",
                  "{n}跟{m}", "第{n}项同第{m}项")
NUMERALS = ("1", "2", "3", "4", "5", "一", "二", "三", "四", "五")
CITY_SHAPES = ("{c}", "{c}{d}", "我在{c}", "{c}的", "人在{c}{d}", "{c}那边")
DISTRICT_SHAPES = ("在{d}", "{d}那边", "{d}", "{c}{d}")


def form_answers(kb: KnowledgeBase, places: list[tuple[str, list[str]]]) -> list[str]:
    """Choices among a bundle's items and places of Guangdong, as bare answers."""
    out = []
    for b in kb.bundles:
        names = [min(item_phrases(it.name, it.aliases), key=len) for it in b.items]
        names = [n for n in names if len(n) <= 6]
        for k, x in enumerate(names):
            y = names[(k + 1) % len(names)]
            if x != y:
                out.append(_pick(CHOICE_SHAPES, f"{b.id}{k}").format(x=x, y=y))
    for k in range(12):
        n, m = NUMERALS[k % 10], NUMERALS[(k + 2 + k // 5) % 10]
        out.append(_pick(ORDINAL_SHAPES, f"ordinal{k}").format(n=n, m=m))
    for city, districts in places:
        for j, d in enumerate(districts[:2] or [""]):
            shape = _pick(DISTRICT_SHAPES if j else CITY_SHAPES, f"{city}{j}")
            if "{d}" in shape and not d:
                shape = "{c}"
            out.append(shape.format(c=city, d=d))
    return out


def read_places(path: Path) -> list[tuple[str, list[str]]]:
    """(city, its districts' short names) from data/places.yml."""
    if not path.exists():
        return []
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for city in (raw.get("cities") or {}).values():
        name = (city.get("aliases") or [city["name"]])[0]
        districts = [(d.get("aliases") or [d["name"]])[0] for d in (city.get("districts") or {}).values()]
        out.append((name, districts))
    return out


def build_nlu(kb: KnowledgeBase, catalogue: Catalogue | None = None,
              places: list[tuple[str, list[str]]] = ()) -> dict:
    lookups, synonyms_bundle, synonyms_item = [], {}, {}
    phrase_owners: dict[str, set[str]] = {}
    for b in kb.bundles:
        lookups.append({"lookup": f"bundle:{b.id}", "examples": [b.name, *b.synonyms]})
        synonyms_bundle[b.id] = [b.name, *b.synonyms]
        for it in b.items:
            phrases = item_phrases(it.name, it.aliases)
            lookups.append({"lookup": f"item:{it.global_id}", "examples": phrases})
            synonyms_item.setdefault(it.id, []).extend(phrases)
            for p in phrases:
                phrase_owners.setdefault(p, set()).add(b.id)
    examples: dict[str, list[str]] = {k: [] for k in TEMPLATES}
    intents = list(TEMPLATES)
    for b in kb.bundles:
        for it in b.items:
            for n, phrase in enumerate(item_phrases(it.name, it.aliases)[:3]):
                intent = intents[(n + len(it.id)) % len(intents)]
                text = _pick(TEMPLATES[intent], phrase).format(x="\x00")
                owners = phrase_owners[phrase]
                mention = annotate(phrase, "bundle", b.id) if len(owners) == 1 else phrase
                examples[intent].append(text.replace("\x00", mention))
                if n == 0:
                    key = f"{b.id}.{it.id}"
                    a = _pick(OFFICES, key + "a")
                    other = [o for o in OFFICES if o != a]
                    shape = _pick(DEPARTMENT_SHAPES, key).format(x="\x00", a=a, b=_pick(tuple(other), key))
                    examples["ask_department"].append(shape.replace("\x00", mention))
    stories: dict[str, list[str]] = {k: [] for k in TEMPLATES}
    for b in kb.bundles:
        events = [p for p in b.synonyms if 2 <= len(p) <= 8]
        for n, it in enumerate(b.items):
            if not events:
                break
            phrase = item_phrases(it.name, it.aliases)[-1]
            intent = intents[(n + len(b.id)) % len(intents)]
            question = _pick(TEMPLATES[intent], it.global_id + "story").format(x=phrase)
            story = _pick(STORY_SHAPES, it.global_id).format(
                s=annotate(_pick(tuple(events), it.global_id), "bundle", b.id), q=question)
            stories[intent].append(story)
    for intent, texts in stories.items():
        examples[intent] += texts
    for b in kb.bundles:
        for it in b.items:
            names = [p for use in it.materials[:3] for p in material_names(kb.materials[use.doc])[:2]]
            for n, name in enumerate(names[:3]):
                phrase = item_phrases(it.name, it.aliases)[n % len(item_phrases(it.name, it.aliases))]
                owners = phrase_owners[phrase]
                mention = annotate(phrase, "bundle", b.id) if len(owners) == 1 else phrase
                shape = _pick(MATERIAL_SHAPES, f"{it.global_id}{n}").format(x="\x00", m=name)
                examples["ask_materials"].append(shape.replace("\x00", mention))
        for n, phrase in enumerate(b.synonyms[:3]):
            key = f"{b.id}#{n}"
            a = _pick(OFFICES, key + "a")
            other = tuple(o for o in OFFICES if o != a)
            shape = _pick(DEPARTMENT_SHAPES, key).format(x="\x00", a=a, b=_pick(other, key))
            examples["ask_department"].append(shape.replace("\x00", annotate(phrase, "bundle", b.id)))
    nlu: list[dict] = []
    nlu.append({"intent": "inform", "metadata": {"generated": "from data/bundles and data/places.yml"},
                "examples": _block(dict.fromkeys(form_answers(kb, list(places))))})
    for intent, texts in examples.items():
        nlu.append({"intent": intent, "metadata": {"generated": "from data/bundles"},
                    "examples": _block(dict.fromkeys(texts))})
    if catalogue is not None:
        oos = []
        events = [p for b in kb.bundles for p in b.synonyms[:4] if 2 <= len(p) <= 8]
        for s in catalogue.services:
            lookups.append({"lookup": f"elsewhere:{s.id}", "examples": list(s.phrases)})
            if s.confused_with:
                lookups.append({"lookup": f"confused:{s.id}", "examples": list(s.confused_with)})
            for n, (names, deeds) in enumerate(s.together):
                lookups.append({"lookup": f"together:{s.id}:{n}:names", "examples": list(names)})
                lookups.append({"lookup": f"together:{s.id}:{n}:deeds", "examples": list(deeds)})
            for n, phrase in enumerate(s.phrases):
                oos.append(_pick(ELSEWHERE_TEMPLATES, f"{s.id}{n}").format(x=phrase))
            for n, phrase in enumerate(s.phrases[:3]):
                # a life event first, then a service handled elsewhere: still elsewhere
                key = f"{s.id}story{n}"
                question = _pick(ELSEWHERE_TEMPLATES, key).format(x=phrase)
                oos.append(_pick(STORY_SHAPES, key).format(s=_pick(tuple(events), key), q=question))
            for n, (names, deeds) in enumerate(s.together):
                for m, deed in enumerate(deeds[:4]):
                    name = names[m % len(names)]
                    oos.append(_pick(TOGETHER_TEMPLATES, f"{s.id}{n}{m}").format(x=name, y=deed))
        nlu.append({"intent": "out_of_scope", "metadata": {"generated": "from data/elsewhere.yml"},
                    "examples": _block(dict.fromkeys(oos))})
        channels = [c.name for s in catalogue.services for c in s.channels]
    else:
        channels = []
    for audience in sorted({b.audience for b in kb.bundles}):
        lookups.append({"lookup": f"audience:{audience}",
                        "examples": [b.id for b in kb.bundles if b.audience == audience]})
    # Other names citizens type (departments, documents, channels): typo vocabulary.
    vocabulary = [d.name for d in kb.departments.values()]
    vocabulary += [d.national_name for d in kb.departments.values()]
    for m in kb.materials.values():
        vocabulary += [m.name, *m.aliases]
    vocabulary += ["粤省事", "政务服务中心", "政务服务网", *channels]
    materials = [p for m in kb.materials.values() for p in material_names(m)]
    lookups.append({"lookup": "material", "examples": list(dict.fromkeys(materials))})
    departments = [d.name for d in kb.departments.values()]
    departments += [d.national_name for d in kb.departments.values()]
    departments += list(OFFICES)
    lookups.append({"lookup": "department", "examples": list(dict.fromkeys(departments))})
    lookups.append({"lookup": "vocabulary",
                    "examples": [v for v in vocabulary if not re.search(r"[\s/（）()、，,。；;《》“”]", v)]})
    for lk in lookups:
        nlu.append({"lookup": lk["lookup"], "examples": _block(dict.fromkeys(lk["examples"]))})
    seen: set[str] = set()
    for value, texts in synonyms_bundle.items():
        uniq = [t for t in dict.fromkeys(texts) if t != value and t not in seen]
        seen.update(uniq)
        nlu.append({"synonym": value, "examples": _block(uniq)})
    return {"version": "3.1", "nlu": nlu}


def _block(texts) -> str:
    return "".join(f"- {t}\n" for t in texts)


def jieba_words(kb: KnowledgeBase) -> list[str]:
    words: list[str] = []
    for d in kb.departments.values():
        words += [d.name, d.national_name]
    for m in kb.materials.values():
        words += [m.name, *m.aliases]
    for b in kb.bundles:
        words += [b.name, *b.synonyms]
        for it in b.items:
            words += item_phrases(it.name, it.aliases)
    out = []
    for w in dict.fromkeys(words):
        if 2 <= len(w) <= 12 and not re.search(r"[\s/（）()、，,。；;《》“”]", w):
            out.append(w)
    return out


class _LiteralDumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_LiteralDumper.add_representer(str, _str_presenter)


def export(build_dir: Path = BUILD_DIR, data_dir: Path = DATA_DIR) -> list[Path]:
    """Write the generated files; only touches files whose content changed."""
    from nlu.normalize import Normalizer

    kb = load_knowledge_base(data_dir)
    catalogue = load_catalogue(kb, data_dir)
    normalizer = Normalizer.from_file(data_dir / "normalization.yml")
    nlu_text = "# Generated from data/bundles and data/elsewhere.yml by `python -m bot nlu-export`; do not edit.\n"
    places = read_places(data_dir / "places.yml")
    nlu_text += yaml.dump(build_nlu(kb, catalogue, places), Dumper=_LiteralDumper, allow_unicode=True,
                          sort_keys=False)
    extra = [p for s in catalogue.services for p in s.phrases]
    words = dict.fromkeys(normalizer(w) for w in [*jieba_words(kb), *extra])
    dict_text = "".join(f"{w} 3000\n" for w in words if len(w) >= 2)
    written = []
    for path, text in ((data_dir / "nlu" / "generated" / "kb.yml", nlu_text),
                       (build_dir / "jieba" / "yjs.dict", dict_text)):
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
