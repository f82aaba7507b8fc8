"""The identity provider interface and its HTTP protocol.

Modelled on the face-verification services government apps use (e.g. Tencent
Cloud 人脸核身 DetectAuth / GetDetectInfo, WeChat 实名核身): the server asks for a
verification, the citizen opens the provider's page and verifies there (face,
ID card), and the server then asks the provider for the result. We never see the
face or the card; we get a yes/no and, on yes, the verified 身份证号 and name.

Protocol (JSON over HTTPS; IDENTITY_API_BASE, IDENTITY_APP_ID, IDENTITY_SECRET):

    POST {base}/v1/detect-auth   {"rule_id": "prefill", "reference": "<opaque>"}
      → 200 {"biz_token": "…", "url": "https://…", "expires_in": 600}
    POST {base}/v1/detect-info   {"biz_token": "…"}
      → 200 {"state": "pending" | "passed" | "failed" | "expired",
             "id_number": "…", "name": "…"}     (the last two only when passed)

Every request and every answer is signed: headers X-App-Id, X-Timestamp (unix
seconds), X-Nonce and X-Signature = hex HMAC-SHA256(secret,
"<timestamp>\\n<nonce>\\n<body>"). We refuse an answer that is unsigned, signed with
another key or older than 5 minutes, so nobody between us and the provider can
turn a "failed" into a "passed". Errors: 4xx/5xx {"error": code, "message": text}.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("bot.identity")

PENDING, PASSED, FAILED, EXPIRED = "pending", "passed", "failed", "expired"
MAX_SKEW = 300
TIMEOUT = 5.0


class ProviderError(RuntimeError):
    """The provider could not be reached or answered something we cannot trust."""


@dataclass(frozen=True)
class Challenge:
    ticket: str  # the provider's biz token (a secret: only we may ask for its result)
    url: str  # the page the citizen opens to verify
    expires_in: int


@dataclass(frozen=True)
class Result:
    state: str
    id_number: str | None = None
    name: str | None = None


class IdentityProvider(Protocol):
    name: str

    def start(self, reference: str) -> Challenge:
        """Ask for a verification; `reference` is opaque to the provider."""

    def result(self, ticket: str) -> Result:
        """Where the verification `ticket` stands."""


def sign(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(app_id: str, secret: str, body: bytes) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
    return {"X-App-Id": app_id, "X-Timestamp": timestamp, "X-Nonce": nonce,
            "X-Signature": sign(secret, timestamp, nonce, body),
            "Content-Type": "application/json"}


def verify_signed(secret: str, headers, body: bytes) -> bool:
    timestamp, nonce = headers.get("X-Timestamp") or "", headers.get("X-Nonce") or ""
    given = headers.get("X-Signature") or ""
    try:
        fresh = abs(time.time() - int(timestamp)) <= MAX_SKEW
    except ValueError:
        return False
    return fresh and bool(nonce) and hmac.compare_digest(sign(secret, timestamp, nonce, body), given)


class HttpIdentityProvider:
    """The protocol above, over urllib (called from the action server's threads)."""

    def __init__(self, base_url: str, app_id: str, secret: str, name: str = "http",
                 timeout: float = TIMEOUT):
        self.base_url, self.app_id, self._secret = base_url.rstrip("/"), app_id, secret
        self.name, self.timeout = name, timeout

    def __repr__(self) -> str:
        return f"HttpIdentityProvider({self.base_url!r}, app_id={self.app_id!r})"

    @classmethod
    def from_env(cls) -> HttpIdentityProvider | None:
        base = os.environ.get("IDENTITY_API_BASE", "").strip()
        app_id = os.environ.get("IDENTITY_APP_ID", "").strip()
        secret = os.environ.get("IDENTITY_SECRET", "").strip()
        if not (base and app_id and secret):
            return None
        return cls(base, app_id, secret, name=os.environ.get("IDENTITY_PROVIDER", "http"))

    def _call(self, path: str, payload: dict) -> dict:
        body = json.dumps(payload, separators=(",", ":")).encode()
        req = urllib.request.Request(f"{self.base_url}{path}", data=body, method="POST",
                                     headers=signed_headers(self.app_id, self._secret, body))
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - configured
                raw, headers = resp.read(64 * 1024), resp.headers
        except urllib.error.HTTPError as exc:
            raise ProviderError(f"identity provider answered {exc.code}") from None
        except OSError as exc:
            raise ProviderError(f"identity provider unreachable: {type(exc).__name__}") from None
        if not verify_signed(self._secret, headers, raw):
            raise ProviderError("identity provider answer is not signed with our key")
        try:
            data = json.loads(raw)
        except ValueError:
            raise ProviderError("identity provider answer is not JSON") from None
        if not isinstance(data, dict):
            raise ProviderError("identity provider answer is not an object")
        return data

    def start(self, reference: str) -> Challenge:
        data = self._call("/v1/detect-auth", {"rule_id": "prefill", "reference": reference})
        ticket, url = data.get("biz_token"), data.get("url")
        if not isinstance(ticket, str) or not isinstance(url, str) or not url.startswith("http"):
            raise ProviderError("identity provider gave no verification page")
        return Challenge(ticket, url, int(data.get("expires_in") or 600))

    def result(self, ticket: str) -> Result:
        data = self._call("/v1/detect-info", {"biz_token": ticket})
        state = data.get("state")
        if state not in (PENDING, PASSED, FAILED, EXPIRED):
            raise ProviderError("identity provider gave an unknown state")
        if state == PASSED:
            id_number, name = data.get("id_number"), data.get("name")
            if not isinstance(id_number, str) or not id_number.strip():
                raise ProviderError("identity provider passed without an identity")
            return Result(PASSED, id_number.strip().upper(), str(name or "") or None)
        return Result(state)
