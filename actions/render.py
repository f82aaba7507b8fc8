"""Chinese reply text for knowledge-base answers: short lines for a phone screen."""

from __future__ import annotations

import re

from bot.kb.views import BundleView, ItemView, MaterialNeed

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


def overview(bundle: BundleView) -> str:
    lines = [f"「{bundle.name}」一件事（牵头：{bundle.lead_department.name}）", bundle.description,
             f"共{len(bundle.items)}个事项，可全部办理，也可只选其中几项："]
    keys = {it.key: it for it in bundle.items}
    for n, it in enumerate(bundle.items, 1):
        extra = []
        if it.first_step:
            extra.append("先办")
        for p in it.prerequisites:
            named = [short(keys[k].name) for k in p.items if k in keys]
            if named:
                extra.append("需先办" + "或".join(named))
        if it.parallel_group:
            extra.append("须同时办")
        if not it.in_guangdong_list:
            extra.append("国家清单事项")
        tail = f"〔{'，'.join(extra)}〕" if extra else ""
        lines.append(f"{n}. {it.name}｜{it.department.name}{tail}")
    groups = bundle.parallel_groups
    if groups:
        names = "、".join(short(it.name) for g in groups.values() for it in g)
        lines.append(f"按规定，{names}须并行办理，不能只选其一。")
    lines.append("还想了解什么？可以问我材料、地点、时限或能否网上办。")
    return "\n".join(lines)


def _used_by(need: MaterialNeed, total: int) -> str:
    if total <= 1:
        return ""
    if len(need.used_by) == total:
        return "（各事项通用）"
    names = [short(n) for n in need.used_by_names]
    if len(names) > MAX_USED_BY:
        return f"（{'、'.join(names[:MAX_USED_BY])}等{len(names)}项用）"
    return f"（{'、'.join(names)}用）"


def materials(bundle: BundleView, needs: list[MaterialNeed], item: ItemView | None = None) -> str:
    title = f"「{bundle.name}」中的「{short(item.name)}」" if item else f"「{bundle.name}」一套材料"
    total = 1 if item else len(bundle.items)
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


def department(bundle: BundleView, item: ItemView | None = None) -> str:
    if item:
        return (f"「{short(item.name)}」由{item.department.name}负责，"
                f"具体到{item.department.where}办理。{_online_hint(item)}")
    lines = [f"「{bundle.name}」由{bundle.lead_department.name}牵头，"
             "一窗受理、一网办理，各事项分工如下："]
    lines += [f"· {short(it.name)}：{it.department.name}" for it in bundle.items]
    if bundle.channels:
        lines.append("办理渠道：" + "；".join(bundle.channels[:2]))
    return "\n".join(lines)


def time_limit(bundle: BundleView, item: ItemView | None = None) -> str:
    if item:
        text = f"「{short(item.name)}」办理时限：{days(item)}。"
        if item.time_limit_statutory:
            text += f"\n法定要求：{item.time_limit_statutory}。"
        return text
    lines = [f"「{bundle.name}」各事项办理时限（工作日，不含邮寄）："]
    lines += [f"· {short(it.name)}：{days(it)}" for it in bundle.items]
    deadlines = [it for it in bundle.items if it.time_limit_statutory and "内" in it.time_limit_statutory]
    if deadlines:
        lines.append("注意期限：" + "；".join(
            f"{short(it.name)}—{it.time_limit_statutory}" for it in deadlines[:2]))
    return "\n".join(lines)


def fee(bundle: BundleView, item: ItemView | None = None) -> str:
    if item:
        return f"「{short(item.name)}」费用：{item.fee}。"
    free = [short(it.name) for it in bundle.items if it.fee.startswith("免费")]
    paid = [it for it in bundle.items if not it.fee.startswith("免费")]
    lines = [f"「{bundle.name}」费用说明："]
    if free:
        lines.append("免费：" + "、".join(free))
    lines += [f"· {short(it.name)}：{it.fee}" for it in paid]
    return "\n".join(lines)


_ONLINE = {"yes": "可全程网上办", "partial": "可网上申请，但有一步需到现场", "no": "需到现场办理"}


def _online_hint(item: ItemView) -> str:
    return f"{_ONLINE[item.online]}。"


def online(bundle: BundleView, item: ItemView | None = None) -> str:
    if item:
        text = f"「{short(item.name)}」{_ONLINE[item.online]}。"
        if item.online_note:
            text += f"\n{item.online_note}"
        return text
    lines = [f"「{bundle.name}」网上办理情况："]
    for level, label in (("yes", "全程网办"), ("partial", "网上申请＋现场一步"), ("no", "现场办理")):
        names = [short(it.name) for it in bundle.items if it.online == level]
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
