"""Settings and context wiring for the CLI and the server (the only place env vars are read)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tickdeck.core.config import Settings

if TYPE_CHECKING:  # imported when a context is opened: a command that only reads settings stays light
    from tickdeck.core.context import Context


def load_settings() -> Settings:
    return Settings.from_env()


def open_context(settings: Settings | None = None, *, pipeline: bool | None = None) -> Context:
    """Open the services; install the post-ingest pipeline (bars + validation) unless
    ``pipeline=False`` or ``TICKDECK_PIPELINE=off``."""
    from tickdeck.core.context import Context

    ctx = Context.open(settings or load_settings())
    if pipeline is None:
        pipeline = os.environ.get("TICKDECK_PIPELINE", "on").lower() not in ("0", "off", "false", "no")
    if pipeline:
        from tickdeck.core.pipeline import install

        install(ctx)
    return ctx
