"""The retention job: personal data is kept only as long as it is needed.

| what | kept | setting |
|---|---|---|
| conversations (Rasa tracker events), whole conversations idle that long | 30 days | `YJS_RETENTION_DAYS` |
| vault tokens, identity verifications | 30 days | `YJS_RETENTION_DAYS` |
| WeChat pushed-message rows (dedup, retries, the 48 h window) | 7 days (at least 3) | `WECHAT_INBOUND_RETENTION_DAYS` |
| shared-data look-up audit log | 180 days | `YJS_AUDIT_RETENTION_DAYS` |
| used nonces | until they expire | — |

Submitted applications and their history are records of the administration and
are not purged here. The Rasa server runs the job every hour (bot.rasa_server);
`python -m bot retention` runs it once (e.g. from cron).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

log = logging.getLogger("bot.retention")


def _days(name: str, default: float, minimum: float = 1.0) -> timedelta:
    return timedelta(days=max(minimum, float(os.environ.get(name) or default)))


def settings() -> dict[str, timedelta]:
    return {"conversations": _days("YJS_RETENTION_DAYS", 30),
            "inbound": _days("WECHAT_INBOUND_RETENTION_DAYS", 7, minimum=3),
            "audit": _days("YJS_AUDIT_RETENTION_DAYS", 180, minimum=30)}


def tracker_store() -> Any:
    """The tracker store `make run` configures (for running the job outside Rasa)."""
    from bot.config import VAR_DIR
    from bot.run import tracker_store_config
    from bot.tracker_store import EncryptedSQLTrackerStore

    config = dict(tracker_store_config(os.environ.get("TRACKER_DB_URL"), VAR_DIR))
    config.pop("type")
    return EncryptedSQLTrackerStore(host=config.pop("url", None), **config)


def run_once(store: Any = None) -> dict[str, int]:
    from bot.applications.shared_data import SharedData
    from bot.identity.service import Identities
    from bot.nonces import Nonces
    from bot.privacy.vault import Vault
    from wechat.inbox import Inbox

    keep = settings()
    done = {"vault": Vault().purge(keep["conversations"]),
            "identity": Identities().purge(keep["conversations"]),
            "inbound": Inbox().purge(keep["inbound"]),
            "audit": SharedData().purge(keep["audit"]),
            "nonces": sum(Nonces(scope, 0).purge() for scope in ("wechat", "miniprogram"))}
    store = store if store is not None else tracker_store()
    if hasattr(store, "purge"):
        done["conversations"] = store.purge(keep["conversations"].total_seconds())
    log.info("retention: %s", done)
    return done
