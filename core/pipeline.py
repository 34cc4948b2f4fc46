"""The post-ingest pipeline: what happens to every day any source writes.

``install(ctx)`` turns on, in order:

1. the ingest rules (reject → dead letter, flag → kept and recorded) from :mod:`core.validation`;
2. default bars for the day (13 families × 3 specs) from :mod:`core.bars`;
3. validation of the written day and its quality score (after the bars, so the storage
   validator sees them).

The CLI and the server install it on start-up (``app.wiring.open_context``); library users and
tests opt in explicitly.
"""

from __future__ import annotations


def install(ctx) -> None:
    """Install ingest rules, default-bar building and validation on ``ctx`` (idempotent)."""
    from tickdeck.core import bars, validation

    bars.install(ctx)
    validation.install(ctx)
    hooks = ctx.extras["after_write"]
    # Bars first: the storage validator checks the default bar series of the day.
    hooks.sort(key=lambda h: 1 if getattr(h, "__name__", "") == "validation_after_write" else 0)
