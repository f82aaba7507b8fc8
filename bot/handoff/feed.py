"""The console's feed of a taken-over conversation, fed by our tracker store.

Why here and not Rasa's event broker: Rasa's SQL event broker and SQL tracker store
both write a table named `events`, so the broker would need a database of its own,
and a Pika/RabbitMQ broker is optional (RABBITMQ_URL). Every turn of every channel
passes through the tracker store's save() in the Rasa process, so the store
(bot.tracker_store) calls `on_saved` after each save: for a tracker that is not
paused — every ordinary bot turn — the whole cost is one in-memory
`tracker.is_paused()`; a paused tracker's new citizen messages become rows of
`handoff_messages`, which the backend's event stream (backend/agent/stream.py)
sends to the consoles.

HANDOFF_FEED=0 switches the hook off (the benchmark's baseline).
"""

from __future__ import annotations

import logging
import os
from functools import cache

logger = logging.getLogger(__name__)

ENABLED = os.environ.get("HANDOFF_FEED", "1").strip().lower() not in ("0", "false", "no", "off")


@cache
def _service():
    from bot.handoff.service import Handoff

    return Handoff()


def on_saved(tracker, new_events) -> None:
    if not ENABLED or not tracker.is_paused():
        return
    from rasa.shared.core.events import UserUttered

    texts = [(e.text, e.timestamp) for e in new_events
             if isinstance(e, UserUttered) and isinstance(e.text, str) and e.text.strip()]
    if not texts:
        return
    try:
        _service().record_citizen(tracker.sender_id, texts)
    except Exception:  # noqa: BLE001 - the turn itself is saved; the console misses one line
        logger.exception("handoff feed: could not record a citizen message")
