"""The life of a sub-application after submission, driven by department systems.

submitted → accepted | needs_more | rejected
needs_more → accepted | rejected          (after the citizen supplies what is missing)
accepted → approved | needs_more | rejected
approved → completed
An application completes when every sub-application is completed or rejected.
"""

from __future__ import annotations

STATE_NAMES = {
    "submitted": "已提交", "accepted": "已受理", "needs_more": "需补充材料",
    "approved": "已办结（审批通过）", "rejected": "未通过", "completed": "已完成",
}
APPLICATION_STATUS_NAMES = {"submitted": "已提交", "in_progress": "办理中", "completed": "已办结"}
TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"accepted", "needs_more", "rejected"}),
    "needs_more": frozenset({"accepted", "rejected"}),
    "accepted": frozenset({"approved", "needs_more", "rejected"}),
    "approved": frozenset({"completed"}),
    "completed": frozenset(),
    "rejected": frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
NOTE_REQUIRED = {"needs_more": "missing", "approved": "result", "rejected": "reason"}


class TransitionError(ValueError):
    """A transition the state machine does not allow, or one missing its note."""


def check_transition(current: str, target: str, note: str | None) -> None:
    if target not in TRANSITIONS:
        raise TransitionError(f"unknown state {target!r}; one of {sorted(TRANSITIONS)}")
    if target not in TRANSITIONS[current]:
        allowed = sorted(TRANSITIONS[current]) or "none (final state)"
        raise TransitionError(f"cannot go from {current} to {target}; allowed: {allowed}")
    if target in NOTE_REQUIRED and not (note or "").strip():
        raise TransitionError(f"{target} needs `{NOTE_REQUIRED[target]}`")


def notification_text(number: str, item: str, state: str, note: str | None) -> str:
    text = f"您的申请 {number}：{item} {STATE_NAMES[state]}"
    if state == "needs_more":
        text += f"，还需要：{note}"
    elif state in ("approved", "completed") and note:
        text += f"，结果：{note}"
    elif state == "rejected":
        text += f"，原因：{note}"
    return text + "。"
