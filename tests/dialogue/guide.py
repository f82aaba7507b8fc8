"""Helpers for conversations that meet the guide (情形引导): answer its
questions as a citizen would, by tapping a button."""

from __future__ import annotations

from bot.kb.situations import SKIPPED


def guide_is_asking(chat, kb) -> bool:
    """The last reply is one of the guide's questions (its buttons are the choices)."""
    if not chat.last:
        return False
    last = chat.last[-1]
    buttons = [b["title"] for b in last.get("buttons") or []]
    for bundle in kb.bundles():
        for q in bundle.guide.questions:
            if last.get("text", "").endswith(q.ask) and buttons == [c.label for c in q.choices]:
                return True
    return False


def through_guide(chat, kb, pick: int = 0, limit: int = 6) -> str:
    """Tap choice `pick` of each guide question until it stops asking; the replies."""
    replies = []
    for _ in range(limit):
        if not guide_is_asking(chat, kb):
            return "\n".join(replies)
        replies.append(chat.say(chat.last[-1]["buttons"][pick]["payload"]))
    raise AssertionError("the guide kept asking: " + "\n".join(replies))


def first_choices(bundle, said: dict[str, str] | None = None) -> dict[str, str]:
    """The answers a citizen gives by tapping the first button each time."""
    answers = dict(said or {})
    while (q := bundle.guide.next_question(answers)) is not None:
        answers[q.id] = q.choices[0].id
    return {k: v for k, v in answers.items() if v != SKIPPED}
