"""Validation wired into ingest: the ingest rules and the after-write hook that validates and scores a day.

:func:`install` sits above the rules, the validators and the quality score (it uses all three), so
none of them imports another's caller: ``rules`` ← ``service`` ← ``quality`` ← this module.
"""

from __future__ import annotations

from tickdeck.core.validation.quality import quality_score
from .rules import ValidationConfig, load_config, make_ingest_rules, store_flags, stored_day_flags
from tickdeck.core.validation.service import validate_day


def install(ctx, config: ValidationConfig | None = None) -> None:
    """Turn on ingest rules and post-write validation + quality scoring for ``ctx``.

    Sets ``ctx.extras["ingest_rules"]`` and appends a hook to ``ctx.extras["after_write"]``
    that stores the day's flags, validates the written day and persists its quality score.
    Installing twice does not add a second hook.
    """
    cfg = config or load_config(ctx.catalog)
    pending: dict = {}
    ctx.extras["ingest_rules"] = make_ingest_rules(cfg, sink=pending)
    hooks = ctx.extras.setdefault("after_write", [])
    hooks[:] = [h for h in hooks if getattr(h, "__name__", "") != "validation_after_write"]

    def validation_after_write(ctx_, symbol: str, day) -> None:
        info = ctx_.store.day_info(symbol, day)
        frame = pending.pop((info.symbol, info.ingest_id), None)
        if frame is None:  # a restored day, or a post-write step resumed by another process
            frame = stored_day_flags(ctx_, symbol, day, cfg)
        store_flags(ctx_, symbol, day, frame)
        report = validate_day(ctx_, symbol, day, use_cache=False, config=cfg)
        quality_score(ctx_, symbol, day, report=report, persist=True)

    hooks.append(validation_after_write)
