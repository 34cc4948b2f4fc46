"""The ``live`` service: Level 1 live collection of the watchlist, supervised by :mod:`core.services`.

It wraps :func:`core.live.collect_live` in a :class:`core.services.ThreadService`: the market
open starts it (``jobs.triggers``), so do ``tickdeck service start live``, the monitor and admin
pages; the end of the extended session (plus a grace), ``tickdeck service stop live`` and the pages
stop it. Stopping is collect_live's own stop: the Level 1 loop ends, the materialiser process
does its last round (every acknowledged tick lands in its day) — bounded by the supervisor's
stop timeout. ``tickdeck collect --live`` runs the same collection in the foreground instead.

Params: ``symbols`` (default: the watchlist's IQFeed datasets, :func:`core.backfill.feed_symbols`),
``host``, ``batch_seconds``.
"""

from __future__ import annotations

import threading
from typing import Callable

from core.service_base import ServiceConfigError, ThreadService

STOP_GRACE_S = 120  # the market triggers stop the service this long after the extended session, for late prints


class LiveCollectionService(ThreadService):
    """Stream the watchlist's trades into their days until stopped (see the module docstring)."""

    name = "live"
    description = "Level 1 live collection of the watchlist"

    def run(self, params: dict, stop: threading.Event, beat: Callable[[str], None]) -> None:
        from core.backfill import feed_symbols
        from core.live import collect_live
        from core.sources.iqfeed import InvalidFeedSymbol

        symbols = list(params.get("symbols") or feed_symbols(self.ctx))
        params["symbols"] = symbols  # shown in the status; the close's finalize leaves these days to this service
        if not symbols:
            raise ServiceConfigError("no symbols to collect live: the watchlist has no IQFeed dataset "
                                     "(set system_config 'watchlist' or start it with symbols)")
        label = ", ".join(symbols[:5]) + (f" and {len(symbols) - 5} more" if len(symbols) > 5 else "")
        beat(f"{label}: connecting")

        def progress(p) -> None:  # once per micro-batch (core.live: Progress("live", acknowledged, 0, "N batches"))
            beat(f"{label}: {p.done:,} ticks acknowledged, {p.message}")

        try:
            s = collect_live(self.ctx, symbols, stop_event=stop, host=params.get("host"), progress=progress,
                             batch_seconds=float(params.get("batch_seconds", 1.0)))
        except InvalidFeedSymbol as e:
            raise ServiceConfigError(f"{e}; remove the symbol from the watchlist or the start request") from e
        beat(f"{label}: stopped after {sum(s.appended.values()):,} ticks stored in {s.batches:,} batches")
