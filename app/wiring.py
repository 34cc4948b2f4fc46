"""Settings and context wiring for the CLI and the server (the only place env vars are read)."""

from __future__ import annotations

from core.config import Settings
from core.context import Context


def load_settings() -> Settings:
    return Settings.from_env()


def open_context(settings: Settings | None = None) -> Context:
    return Context.open(settings or load_settings())
