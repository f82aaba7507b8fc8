"""After submitting: progress (check_status) and 好差评 (rate_service)."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.application import dialog
from actions.context import citizen_text, picks_listed_items
from actions.handoff import handoff, handoff_reply
from actions.kb import knowledge
from bot.applications.ratings import LABELS, Ratings, parse_score
from bot.applications.render import application_detail, application_list
from bot.applications.service import NotFound

NUMBER_RE = re.compile(r"YJS-?\d{8}-?\d{6}", re.I)


def _normalise_number(raw: str) -> str:
    digits = re.sub(r"\D", "", raw)
    return f"YJS-{digits[:8]}-{digits[8:]}"


def status_text(sender: str, text: str) -> str:
    """The sender's applications, or one application's history when `text` has its number."""
    apps = dialog().apps
    names = {b.id: b.name for b in knowledge().bundles()}
    m = NUMBER_RE.search(text)
    if m:
        try:
            app = apps.application(_normalise_number(m.group(0)), sender=sender)
        except NotFound:
            return "没有查到这个编号的申请。请核对编号，或说“我的申请”查看全部。"
        return application_detail(app, names.get(app.bundle_id, ""))
    return application_list(apps.applications(sender), names)


class ActionCheckStatus(Action):
    def name(self) -> str:
        return "action_check_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        dispatcher.utter_message(text=status_text(tracker.sender_id,
                                                  citizen_text(tracker)))
        return []


class ActionRateService(Action):
    def name(self) -> str:
        return "action_rate_service"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        text = citizen_text(tracker)
        score, comment = parse_score(text)
        if score is None:
            dispatcher.utter_message(
                text="请为本次服务打分：",
                buttons=[{"title": label, "payload": label} for _, label in sorted(LABELS.items(), reverse=True)])
            return []
        sender = tracker.sender_id
        latest = next(iter(dialog().apps.applications(sender)), None)
        rating = Ratings(knowledge()).rate(
            sender, score, comment,
            bundle_id=None if latest else tracker.get_slot("bundle"),
            application_number=latest.number if latest else None)
        if rating.flagged and score <= handoff().config.bad_rating:
            # 差评: a person follows it up now (or a call-back outside staffed hours)
            dispatcher.utter_message(text=handoff_reply(tracker, "rating", "rating_intro"))
        elif rating.flagged:
            dispatcher.utter_message(text="非常抱歉给您带来不便。您的意见已转给相关部门，工作人员会尽快联系您跟进。")
        else:
            dispatcher.utter_message(text=f"感谢您的评价（{rating.label}）！我们会继续改进服务。")
        return []


class ActionInformOutsideForm(Action):
    """A form answer with no form running: an application number shows that
    application; otherwise point to the open draft, if any."""

    def name(self) -> str:
        return "action_inform_outside_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        text = citizen_text(tracker)
        if NUMBER_RE.search(text):
            dispatcher.utter_message(text=status_text(tracker.sender_id, text))
            return []
        draft = dialog().apps.open_draft(tracker.sender_id)
        if draft is None and picks_listed_items(tracker, knowledge()):  # "先办1和3" after a list
            return [FollowupAction("action_start_application")]
        if draft is None:
            dispatcher.utter_message(text="收到。目前没有正在填写的申请。您想办哪件事？可以说“孩子出生要办什么”。")
            return []
        name = knowledge().bundle(draft.bundle_id).name
        dispatcher.utter_message(text=f"您有一份未填完的“{name}”申请。回复“继续申请”接着填写，"
                                      "或说“取消申请”。",
                                 buttons=[{"title": "继续申请", "payload": "继续申请"}])
        return []
