"""Chinese reply text for knowledge-base answers: short lines for a phone screen.

Guidance (situations, the personal list, where to go) takes its wording from
data/guide.yml (bot.kb.wording) and the bundle files."""

from __future__ import annotations

import re

from bot.kb.guidance import Alternative, Guidance
from bot.kb.places import Place
from bot.kb.situations import Question
from bot.kb.views import BundleView, ItemView, MaterialNeed
from bot.kb.wording import say

_PAREN = re.compile(r"[（(][^）)]*[）)]")
MAX_USED_BY = 2

FOLLOW_UPS = (
    ("要带什么材料", "ask_materials"),
    ("去哪里办", "ask_department"),
    ("要多久", "ask_time_limit"),
    ("能网上办吗", "ask_online"),
)


def short(name: str) -> str:
    """Item name without its parenthesis: 户口登记（出生登记） → 户口登记."""
    bare = _PAREN.sub("", name).strip()
    return bare or name


def days(item: ItemView) -> str:
    wd = item.working_days
    if wd is None:
        return item.time_limit_committed or "以当地公布的时限为准"
    if wd == 0:
        return "即办（材料齐全当场办结）"
    if wd < 1:
        return "半个工作日内"
    return f"{wd:g}个工作日"


def bundle_list(bundles: list[BundleView]) -> str:
    groups = {"personal": "个人", "enterprise": "企业"}
    lines = ["目前可以咨询这些“一件事”："]
    for audience, label in groups.items():
        names = [b.name for b in bundles if b.audience == audience]
        if names:
            lines.append(f"【{label}】" + "、".join(names))
    lines.append("直接告诉我您要办的事就行，比如“孩子出生要办什么”。")
    return "\n".join(lines)


def _button(title: str, payload: str | None = None) -> dict:
    return {"title": title, "payload": payload or title}


def _tags(it: ItemView, bundle: BundleView, numbers: dict[str, int], g: Guidance | None) -> str:
    keys = {i.key: i for i in bundle.items}
    extra = []
    if it.first_step:
        extra.append(say("overview.first"))
    needs = []  # one entry per prerequisite: its alternatives, each named once
    for p in it.prerequisites:
        inside = [k for k in p.items if k in keys]
        if g is not None:
            inside = [k for k in inside if k in g.decision.items or k in g.decision.done]
        if inside and not (g is not None and set(inside) & set(g.decision.done)):
            needs.append(inside)
    phrases = []
    for alts in needs:
        # 出具死亡证明（正常/非正常死亡）are alternatives: named once, short; a short name
        # another item of the bundle shares (职工参保登记) keeps its full name
        def name(k: str, alts: list[str] = alts) -> str:
            bare = short(keys[k].name)
            shared = any(short(o.name) == bare for o in bundle.items if o.key != k and o.key not in alts)
            return keys[k].name if shared else bare
        named = "或".join(dict.fromkeys(name(k) for k in alts))
        if named not in phrases:
            phrases.append(named)
    if phrases:
        extra.append(say("overview.needs", names="、".join(phrases)))
    if it.parallel_group:
        extra.append(say("overview.parallel"))
    partners = g.decision.exclusive_partner(it.key) if g is not None else ()
    if partners:
        extra.append(say("overview.one_of", others="、".join(str(numbers[k]) for k in partners if k in numbers)))
    if not it.in_guangdong_list:
        extra.append(say("overview.national_only"))
    return f"〔{'，'.join(extra)}〕" if extra else ""


def requirement_lines(g: Guidance | None) -> list[str]:
    return [say("requirement.first", why=r.why) for r in (g.requirements if g else ())]


def requirement_buttons(g: Guidance | None) -> list[dict]:
    return [_button(say("requirement.button", bundle=r.bundle_name), f'/ask_bundle{{"bundle":"{r.bundle_id}"}}')
            for r in (g.requirements if g else ())]


def overview(bundle: BundleView, g: Guidance | None = None) -> str:
    """The bundle's items; with a partly known situation, only those that may apply."""
    items = g.items if g is not None else list(bundle.items)
    lines = [*requirement_lines(g), say("overview.title", bundle=bundle.name, lead=bundle.lead_department.name),
             bundle.description]
    if g is not None and g.case and len(items) < len(bundle.items):
        lines.append(say("overview.some_items", case="、".join(g.case), n=len(items)))
    else:
        lines.append(say("overview.all_items", n=len(items)))
    numbers = {it.key: n for n, it in enumerate(items, 1)}
    for n, it in enumerate(items, 1):
        lines.append(say("overview.item_line", n=n, name=it.name, department=it.department.name,
                         tags=_tags(it, bundle, numbers, g)))
    groups = bundle.parallel_groups
    if groups:
        names = "、".join(short(it.name) for grp in groups.values() for it in grp if it in items)
        if names:
            lines.append(say("overview.parallel_rule", names=names))
    if g is not None and g.decision.pending:
        lines.append(say("overview.questions", n=len(g.decision.pending)))
    else:
        lines.append(say("overview.more"))
    return "\n".join(lines)


def guide_question(q: Question) -> tuple[str, list[dict]]:
    return q.ask, [_button(c.label) for c in q.choices]


def _place_text(places: list[Place]) -> str:
    counters = [p.text for p in places if not p.online]
    return counters[0] if counters else (places[0].text if places else "")


def personal_list(g: Guidance, city: str | None = None) -> list[tuple[str, list[dict]]]:
    """The citizen's own list: items with where to go, one set of materials
    for that case, time limits; then how to apply. Two or three messages."""
    bundle = g.bundle
    lines = [*requirement_lines(g),
             say("personal.title", case="、".join(g.case) or bundle.name, bundle=bundle.name, n=len(g.items))]
    for n, it in enumerate(g.items, 1):
        place = _place_text(g.places.get(it.key, []))
        lines.append(say("personal.item_line", n=n, name=it.name, place=place) if place
                     else say("personal.item_line_no_place", n=n, name=it.name))
    if g.done:
        lines.append(say("personal.done", names="、".join(it.name for it in g.done)))
    lines += list(g.decision.says)
    first = "\n".join(lines)
    second = materials(bundle, g.materials, None, personal=True, total=len(g.items))
    third_lines = [say("personal.time_title")]
    third_lines += [say("personal.time_line", name=short(it.name), days=days(it)) for it in g.items]
    deadlines = [it for it in g.items if it.time_limit_statutory and "内" in it.time_limit_statutory]
    if deadlines:
        third_lines.append(say("personal.deadline", text="；".join(
            f"{short(it.name)}—{it.time_limit_statutory}" for it in deadlines[:2])))
    if g.saved_items or g.saved_materials > 0:
        third_lines.append(say("personal.saved", items=g.full_items, saved_items=g.saved_items,
                               saved_materials=max(g.saved_materials, 0)))
    if city is None:
        third_lines.append(say("personal.city_hint"))
    third_lines.append(say("personal.apply"))
    buttons = [*requirement_buttons(g), _button(say("personal.apply_button")),
               _button(say("personal.where_button"), f'/ask_department{{"bundle":"{bundle.id}"}}')]
    return [(first, []), (second, []), ("\n".join(third_lines), buttons)]


def ineligible(g: Guidance) -> tuple[str, list[dict]]:
    info = g.decision.ineligible
    lines = [say("ineligible.title", bundle=g.bundle.name, reason=info.reason),
             say("ineligible.instead", instead=info.instead)]
    return "\n".join(lines), [*requirement_buttons(g), _button(say("ineligible.button"), "/list_bundles")]


def _used_by(need: MaterialNeed, total: int) -> str:
    if total <= 1:
        return ""
    if len(need.used_by) == total:
        return "（各事项通用）"
    names = [short(n) for n in need.used_by_names]
    if len(names) > MAX_USED_BY:
        return f"（{'、'.join(names[:MAX_USED_BY])}等{len(names)}项用）"
    return f"（{'、'.join(names)}用）"


def materials(bundle: BundleView, needs: list[MaterialNeed], item: ItemView | None = None,
              personal: bool = False, total: int | None = None) -> str:
    if personal and item is None:
        title = f"「{bundle.name}」{say('personal.materials_title')}"
    else:
        title = f"「{bundle.name}」中的「{short(item.name)}」" if item else f"「{bundle.name}」一套材料"
    total = 1 if item else (total if total is not None else len(bundle.items))
    required = [n for n in needs if not n.conditional and not n.produced_by]
    optional = [n for n in needs if n.conditional and not n.produced_by]
    produced = [n for n in needs if n.produced_by]
    lines = [f"{title}需要准备（同一份材料只交一次）："]
    lines += [f"· {n.name}（{n.holder}）{_used_by(n, total)}" for n in required]
    if optional:
        lines.append("视情况提供：")
        lines += [f"· {n.name}（{n.holder}，{n.notes[0] if n.notes else '特定情形'}）" for n in optional]
    if produced:
        lines.append("本次一起办会自动生成，无需另交：")
        lines += [f"· {n.name}（由{short(n.produced_by)}产生）" for n in produced]
    if any(n.e_certificate for n in required):
        lines.append("提示：有电子证照的材料一般可免交纸质件。")
    return "\n".join(lines)


def _department(it: ItemView) -> str:
    return say("where.department", department=it.department.national_name, lead=it.department.name)


def _city_suffix(city_name: str | None) -> str:
    return say("where.item_title_city", city=city_name) if city_name else ""


def department(bundle: BundleView, item: ItemView | None = None, places: list[Place] | None = None,
               city_name: str | None = None, g: Guidance | None = None) -> str:
    """Where to go: the place first, the responsible department second."""
    if item:
        lines = [say("where.item_title", name=short(item.name), city=_city_suffix(city_name))]
        counters = [p for p in places or [] if not p.online]
        online = [p for p in places or [] if p.online]
        for n, p in enumerate(counters):
            lines.append(say("where.place_line" if n == 0 else "where.other_place_line", text=p.text))
        lines += [say("where.online_line", text=p.text) for p in online]
        if not places:
            lines.append(say("where.place_line", text=item.department.where))
        if item.where_note:
            lines.append(item.where_note)
        lines.append(_department(item))
        if city_name is None:
            lines.append(say("personal.city_hint"))
        return "\n".join(lines)
    items = g.items if g is not None else list(bundle.items)
    lines = [*requirement_lines(g), say("where.bundle_title", bundle=bundle.name, city=_city_suffix(city_name))]
    for n, it in enumerate(items, 1):
        place = _place_text(g.places.get(it.key, [])) if g is not None else it.department.where
        lines.append(say("where.bundle_line", n=n, name=short(it.name), place=place))
    if bundle.channels:
        lines.append(say("where.bundle_online", channel=bundle.channels[0]))
    lines.append(say("where.bundle_department", lead=bundle.lead_department.name))
    if city_name is None:
        lines.append(say("personal.city_hint"))
    return "\n".join(lines)


def department_alternatives(item: ItemView, alternatives: list[Alternative], city_name: str | None = None) -> str:
    """"死亡证明去哪开" before the case is known: where, for each case."""
    lines = [say("where.case_title", name=short(item.name), city=_city_suffix(city_name))]
    for a in alternatives:
        lines.append(say("where.case_line", case=a.case, place=_place_text(a.places),
                         department=a.item.department.name))
    if city_name is None:
        lines.append(say("personal.city_hint"))
    return "\n".join(lines)


def time_limit(bundle: BundleView, item: ItemView | None = None, items: list[ItemView] | None = None) -> str:
    if item:
        text = f"「{short(item.name)}」办理时限：{days(item)}。"
        if item.time_limit_statutory:
            text += f"\n法定要求：{item.time_limit_statutory}。"
        return text
    items = items if items is not None else list(bundle.items)
    lines = [f"「{bundle.name}」各事项办理时限（工作日，不含邮寄）："]
    lines += [f"· {short(it.name)}：{days(it)}" for it in items]
    deadlines = [it for it in items if it.time_limit_statutory and "内" in it.time_limit_statutory]
    if deadlines:
        lines.append("注意期限：" + "；".join(
            f"{short(it.name)}—{it.time_limit_statutory}" for it in deadlines[:2]))
    return "\n".join(lines)


def fee(bundle: BundleView, item: ItemView | None = None, items: list[ItemView] | None = None) -> str:
    if item:
        return f"「{short(item.name)}」费用：{item.fee}。"
    items = items if items is not None else list(bundle.items)
    free = [short(it.name) for it in items if it.fee.startswith("免费")]
    paid = [it for it in items if not it.fee.startswith("免费")]
    lines = [f"「{bundle.name}」费用说明："]
    if free:
        lines.append("免费：" + "、".join(free))
    lines += [f"· {short(it.name)}：{it.fee}" for it in paid]
    return "\n".join(lines)


_ONLINE = {"yes": "可全程网上办", "partial": "可网上申请，但有一步需到现场", "no": "需到现场办理"}


def _online_hint(item: ItemView) -> str:
    return f"{_ONLINE[item.online]}。"


def online(bundle: BundleView, item: ItemView | None = None, items: list[ItemView] | None = None) -> str:
    if item:
        text = f"「{short(item.name)}」{_ONLINE[item.online]}。"
        if item.online_note:
            text += f"\n{item.online_note}"
        return text
    items = items if items is not None else list(bundle.items)
    lines = [f"「{bundle.name}」网上办理情况："]
    for level, label in (("yes", "全程网办"), ("partial", "网上申请＋现场一步"), ("no", "现场办理")):
        names = [short(it.name) for it in items if it.online == level]
        if names:
            lines.append(f"{label}：" + "、".join(names))
    if bundle.channels:
        lines.append("线上入口：" + bundle.channels[0])
    return "\n".join(lines)


def not_understood() -> str:
    return "抱歉，我没完全理解您要办哪件事。您可以选一个，或换个说法告诉我："


def clarify(question: str) -> str:
    return f"您想问哪件事的{question}？请选一个，或直接告诉我（如“孩子出生”“开公司”）："


def apply_offline(bundle: BundleView) -> str:
    """For a bundle without an online form: its items and where to apply."""
    channels = "；".join(bundle.channels[:2]) or "广东政务服务网"
    return overview(bundle) + f"\n申请入口：{channels}。"
