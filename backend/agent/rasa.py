"""Rasa's own pause and resume: ConversationPaused / ConversationResumed appended to a
conversation's tracker through Rasa's HTTP API (`POST /conversations/{id}/tracker/events`,
token from bot.config.rasa_token()). A paused tracker still records the citizen's
messages, but Rasa predicts no action for them: no reply, no slot, no draft change.

The gaps of Rasa's pause are guarded elsewhere: a session that expires re-pauses in
actions/handoff.py (action_session_start), "/restart" is refused there too
(action_restart), and the feed to the console is bot.handoff.feed.
"""

from __future__ import annotations

import os
import time
from urllib.parse import quote

import aiohttp

from bot.config import rasa_token

TIMEOUT = aiohttp.ClientTimeout(total=15)


class RasaUnavailable(Exception):
    pass


def rasa_url() -> str:
    return (os.environ.get("YJS_RASA_URL")
            or f"http://127.0.0.1:{int(os.environ.get('RASA_PORT') or 5005)}").rstrip("/")


class RasaConversations:
    """The few calls of Rasa's HTTP API the handoff makes."""

    def __init__(self, base_url: str | None = None, token: str | None = None):
        self.base_url = (base_url or rasa_url()).rstrip("/")
        self._token = token
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    def _url(self, sender: str, tail: str) -> str:
        return f"{self.base_url}/conversations/{quote(sender, safe='')}/{tail}"

    def _params(self) -> dict:
        return {"token": self._token or rasa_token()}

    async def append(self, sender: str, event: str) -> None:
        """`event`: "pause" or "resume" (Rasa's names)."""
        body = {"event": event, "timestamp": time.time()}
        try:
            async with self._session().post(self._url(sender, "tracker/events"),
                                            params={**self._params(), "include_events": "NONE"},
                                            json=body) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa answered {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(type(exc).__name__) from None

    async def pause(self, sender: str) -> None:
        await self.append(sender, "pause")

    async def resume(self, sender: str) -> None:
        await self.append(sender, "resume")

    async def recent(self, sender: str, limit: int = 20) -> list[tuple[str, str, float]]:
        """The last user and bot texts of the tracker: (role, text, timestamp)."""
        try:
            async with self._session().get(self._url(sender, "tracker"),
                                           params={**self._params(), "include_events": "AFTER_RESTART"}) as resp:
                if resp.status != 200:
                    return []
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return []
        return recent_texts(data.get("events") or [], limit)


def recent_texts(events: list[dict], limit: int = 20) -> list[tuple[str, str, float]]:
    """(role, text, timestamp) of user and bot events, oldest first (actions use it too)."""
    out = []
    for e in events:
        kind, text = e.get("event"), e.get("text")
        if kind in ("user", "bot") and isinstance(text, str) and text.strip():
            out.append(("citizen" if kind == "user" else "bot", text, float(e.get("timestamp") or 0)))
    return out[-limit:]
