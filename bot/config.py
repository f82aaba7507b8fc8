"""Project paths and settings, read once from the environment; the secrets every
process needs (data key aside: bot.privacy.crypto) and where they come from."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("YJS_DATA_DIR", ROOT / "data"))
BUNDLES_DIR = DATA_DIR / "bundles"
BUILD_DIR = Path(os.environ.get("YJS_BUILD_DIR", ROOT / "build"))
MODELS_DIR = Path(os.environ.get("YJS_MODELS_DIR", ROOT / "models"))
VAR_DIR = Path(os.environ.get("YJS_VAR_DIR", ROOT / "var"))

RASA_TOKEN_ENV = "RASA_TOKEN"
RASA_TOKEN_FILE = "rasa-token"


class SecretMissing(RuntimeError):
    """A secret that production must be given explicitly is not set."""


def production() -> bool:
    return os.environ.get("YJS_ENV", "development").lower() in ("prod", "production")


def database_url() -> str:
    """The backend database; SQLite under var/ unless DATABASE_URL says otherwise."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    var_dir()
    return f"sqlite:///{VAR_DIR / 'yjs.db'}"


def port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def var_dir() -> Path:
    """var/ (YJS_VAR_DIR): local state, readable by its owner only (0700)."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(VAR_DIR, 0o700)
    return VAR_DIR


def private_file(path: Path, content: bytes) -> None:
    """Write `content` to `path` once, mode 0600; the first process to write wins."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, never overwrites
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def rasa_token() -> str:
    """The token of Rasa's HTTP API (`?token=`): RASA_TOKEN, else the one generated
    into var/rasa-token (0600) on first use. Production must set RASA_TOKEN."""
    token = os.environ.get(RASA_TOKEN_ENV, "").strip()
    if token:
        return token
    if production():
        raise SecretMissing(
            f"{RASA_TOKEN_ENV} is not set. In production Rasa's HTTP API token must come "
            "from the environment (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`).")
    path = var_dir() / RASA_TOKEN_FILE
    if not path.exists():
        private_file(path, secrets.token_urlsafe(32).encode())
    return path.read_text(encoding="ascii").strip()


def derived_secret(purpose: str) -> str:
    """A secret for one internal purpose (e.g. "action-server"), derived from the data
    key: one secret to manage, and each use gets its own."""
    from bot.privacy.crypto import data_key

    return hmac.new(data_key(), f"yjs/{purpose}".encode(), hashlib.sha256).hexdigest()


def actions_secret() -> str:
    """What Rasa sends the action server (Authorization: Bearer …) and it checks."""
    return derived_secret("action-server")


def check_production_secrets() -> None:
    """Refuse to start in production without every explicit secret."""
    from bot.privacy.crypto import data_key

    data_key()
    rasa_token()
