"""What the citizen reads during and after an application: short, polite,
fits a phone screen. 身份证号, phone numbers, names and addresses are always
masked here (4401**********1025, 138****8000, 陈*琳, 广州市天河区…)."""

from __future__ import annotations

from datetime import timezone

from bot.applications import lifecycle
from bot.applications.choice import ItemChoice
from bot.applications.formspec import FieldSpec, FormSpec
from bot.applications.validation import show_date
from bot.kb import wording
from bot.kb.views import BundleView, MaterialNeed
from bot.privacy.masking import mask_address, mask_id, mask_name, mask_phone

MAX_MATERIALS = 8
TAGS = {"mandatory": "（必办）", "parallel_required": "（须同时办理）"}


def _b(title: str, payload: str | None = None) -> dict:
    return {"title": title, "payload": payload or title}


def show_value(spec: FieldSpec, value: str) -> str:
    if value == "":
        return "无"
    if spec.type == "id_number":
        return mask_id(value)
    if spec.type == "phone":
        return mask_phone(value)
    if spec.type == "name":
        return mask_name(value)
    if spec.type == "address":
        return mask_address(value)
    if spec.type == "date":
        return show_date(value)
    if spec.type == "number" and spec.unit:
        return f"{value}{spec.unit}"
    return value


def started(bundle_name: str, intro: str) -> str:
    return f"好的，开始在线申请“{bundle_name}”。{intro}全程约3–5分钟，中途可以随时提问，说“取消申请”可退出。"


def resumed(bundle_name: str, filled: int, total: int) -> str:
    progress = f"（已填 {filled}/{total} 项）" if total else ""
    return f"欢迎回来！继续填写您的“{bundle_name}”申请{progress}。"


def other_draft_open(open_name: str, wanted_name: str) -> str:
    return (f"您还有一份未完成的“{open_name}”申请。请先填完它，"
            f"或说“取消申请”后再办“{wanted_name}”。")


def item_question(bundle: BundleView, offered: tuple[str, ...] | list[str] | None = None) -> tuple[str, list[dict]]:
    """The items to choose from: all, or those the citizen's situation needs."""
    items = [bundle.item(k) for k in offered] if offered is not None else list(bundle.items)
    personal = offered is not None and len(items) < len(bundle.items)
    head = (wording.say("choose.offered_head", bundle=bundle.name, n=len(items)) if personal
            else wording.say("choose.all_head", bundle=bundle.name))
    lines = [head]
    for n, it in enumerate(items, 1):
        lines.append(f"{n}. {it.name}{TAGS.get(it.choice, '')}")
    lines.append("全部办理请回复“全部”；只办部分请回复编号，如“1 3”。")
    return "\n".join(lines), [_b("全部办理", "全部")]


def items_conflict(choice: ItemChoice) -> str:
    a, b = choice.conflicts[0]
    return wording.say("choose.conflict", a=a, b=b)


def items_not_understood() -> str:
    return "没看明白要办哪几项。请回复“全部”，或回复事项编号，如“1 3”。"


def items_chosen(bundle: BundleView, choice: ItemChoice) -> str:
    names = [bundle.item(k).name for k in choice.keys]
    text = f"好的，为您办理{len(names)}项：" + "、".join(names) + "。"
    if choice.dropped:
        text += "\n" + wording.say("choose.not_applicable", names="、".join(choice.dropped))
    for name, why in choice.added:
        text += f"\n已一并选上“{name}”：{why}。"
    for name, needs in choice.prerequisites:
        text += f"\n提示：“{name}”需要先有{needs}；已有的话，稍后填写证明编号即可。"
    return text


def consent_question() -> tuple[str, list[dict]]:
    return ("政务数据共享平台里有您的户籍、电子证照等信息。"
            "用已有信息自动填写吗？填好后您只需核对。", [_b("好的"), _b("不用")])


def prefilled(fields: list[FieldSpec], values: dict) -> str:
    if not fields:
        return "没有查到可以自动填写的信息，我们一项一项填写。"
    shown = "；".join(f"{f.label} {show_value(f, values[f.id])}" for f in fields)
    return f"已为您自动填写：{shown}。如有不对，随时可以说“××改成…”。"


def field_question(spec: FieldSpec, n: int, total: int) -> tuple[str, list[dict]]:
    text = f"（{n}/{total}）{spec.question}"
    buttons = []
    if spec.type == "choice":
        text += "\n" + "  ".join(f"{i}. {o}" for i, o in enumerate(spec.options, 1))
        buttons = [_b(o) for o in spec.options]
    if spec.optional:
        buttons.append(_b("没有"))
    return text, buttons


def summary(bundle: BundleView, form: FormSpec, draft, materials: list[MaterialNeed]) -> tuple[str, list[dict]]:
    lines = [f"请核对您的“{bundle.name}”申请：",
             f"【办理事项】{'、'.join(bundle.item(k).name for k in draft.items)}",
             "【填写信息】"]
    for spec in form.fields_for(draft.items):
        if spec.id in draft.values:
            mark = "（自动填写）" if spec.id in draft.prefilled else ""
            lines.append(f"· {spec.label}：{show_value(spec, draft.values[spec.id])}{mark}")
    need = [m for m in materials if not m.produced_by and not m.conditional]
    if need:
        names = [m.name + ("（可用电子证照）" if m.e_certificate else "") for m in need]
        more = f"等{len(names)}项" if len(names) > MAX_MATERIALS else ""
        lines.append("【还需准备】" + "、".join(names[:MAX_MATERIALS]) + more)
    extra = sum(1 for m in materials if m.conditional and not m.produced_by)
    if extra:
        lines.append(f"另有{extra}项材料视情况提供，可问我“要带什么材料”。")
    lines.append("无误请回复“确认提交”；要修改可以说“电话改成…”。")
    return "\n".join(lines), [_b("确认提交"), _b("取消申请")]


def confirm_hint() -> str:
    return "请回复“确认提交”提交申请；要修改可以说“电话改成…”；不办了请说“取消申请”。"


def cancelled() -> str:
    return "好的，已取消这份申请，填写的信息已删除。需要时随时说“我要申请”。"


def no_open_form() -> str:
    return "这份申请已经结束了。需要办理可以说“我要申请”。"


def submitted(bundle: BundleView, app) -> tuple[str, list[dict]]:
    lines = [f"申请已提交！编号：{app.number}", "已分送以下部门办理："]
    for sub in app.subs:
        lines.append(f"· {sub.item_name}（{bundle.item(sub.item_key).department.name}）")
    lines.append("办理进度会通知您，也可以随时问我“我的申请到哪了”。")
    return "\n".join(lines), [_b("查询进度", "我的申请到哪了")]


def application_list(apps, bundle_names: dict[str, str]) -> str:
    if not apps:
        return ("您还没有在这里提交过申请。想办理可以说“我要申请”；"
                "在其他渠道提交的，可在“粤省事”小程序“我的办件”查询。")
    lines = ["您的申请："]
    for app in apps[:5]:
        lines.append(f"{app.number} {bundle_names.get(app.bundle_id, app.bundle_id)}"
                     f"（{lifecycle.APPLICATION_STATUS_NAMES.get(app.status, app.status)}）")
        for sub in app.subs:
            lines.append(f"  · {sub.item_name}：{lifecycle.STATE_NAMES[sub.state]}")
    lines.append("查看某份申请的办理记录，请发送它的编号。")
    return "\n".join(lines)


def application_detail(app, bundle_name: str) -> str:
    lines = [f"{app.number} {bundle_name}"
             f"（{lifecycle.APPLICATION_STATUS_NAMES.get(app.status, app.status)}）", "办理记录："]
    for e in app.history:
        at = e.at if e.at.tzinfo else e.at.replace(tzinfo=timezone.utc)
        when = at.astimezone().strftime("%m-%d %H:%M")
        what = lifecycle.STATE_NAMES[e.to_state]
        note = f"：{e.detail}" if e.detail else ""
        lines.append(f"{when} {e.item or ''} {what}{note}")
    return "\n".join(lines)
