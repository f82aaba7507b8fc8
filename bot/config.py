"""Project paths and settings, read once from the environment."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("YJS_DATA_DIR", ROOT / "data"))
BUNDLES_DIR = DATA_DIR / "bundles"
BUILD_DIR = Path(os.environ.get("YJS_BUILD_DIR", ROOT / "build"))
MODELS_DIR = Path(os.environ.get("YJS_MODELS_DIR", ROOT / "models"))
VAR_DIR = Path(os.environ.get("YJS_VAR_DIR", ROOT / "var"))


def database_url() -> str:
    """The backend database; SQLite under var/ unless DATABASE_URL says otherwise."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{VAR_DIR / 'yjs.db'}"


def port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))
