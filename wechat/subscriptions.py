"""Mini-program subscribe-message grants (table mp_subscriptions; this module owns it).

A citizen who taps "允许" in wx.requestSubscribeMessage gives one grant for that
template; each subscribe message sent uses one. `take` and `give_back` are single
conditional UPDATEs, so concurrent senders never use a grant twice.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.clock import now
from bot.models import MpSubscription

MAX_GRANTS = 50


class Busy(RuntimeError):
    """Two first grants raced and this one kept losing: try again later."""


class Subscriptions:
    def __init__(self, sessions: sessionmaker | None = None):
        if sessions is None:
            from bot.db import session_factory

            sessions = session_factory()
        self._sessions = sessions

    def record(self, openid: str, template_id: str, accept: bool) -> int:
        """Add one grant when accepted; the remaining count for this template."""
        for _ in range(3):  # two first grants at once: the loser of the insert retries
            try:
                with self._sessions.begin() as s:
                    row = s.execute(select(MpSubscription).where(
                        MpSubscription.openid == openid, MpSubscription.template_id == template_id)
                        .with_for_update()).scalar_one_or_none()
                    if row is None:
                        row = MpSubscription(openid=openid, template_id=template_id, remaining=0,
                                             updated_at=now())
                        s.add(row)
                    if accept:
                        row.remaining = min(MAX_GRANTS, (row.remaining or 0) + 1)
                        row.updated_at = now()
                    s.flush()
                    return row.remaining
            except IntegrityError:
                continue
        raise Busy("subscription grant kept conflicting")

    def _change(self, openid: str, template_id: str, delta: int) -> bool:
        cond = [MpSubscription.openid == openid, MpSubscription.template_id == template_id]
        if delta < 0:
            cond.append(MpSubscription.remaining > 0)
        with self._sessions.begin() as s:
            return s.execute(update(MpSubscription).where(*cond)
                             .values(remaining=MpSubscription.remaining + delta, updated_at=now())
                             .execution_options(synchronize_session=False)).rowcount == 1

    def take(self, openid: str, template_id: str) -> bool:
        """Use one grant; False when there is none left."""
        return self._change(openid, template_id, -1)

    def give_back(self, openid: str, template_id: str) -> bool:
        """WeChat did not use the grant after all."""
        return self._change(openid, template_id, +1)
