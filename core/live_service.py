"""The ``live`` service: Level 1 live collection of the watchlist, supervised by :mod:`tickdeck.core.services`.

It wraps :func:`core.live.collect_live` in a :class:`core.services.ThreadService`: the market
open starts it (``jobs.triggers``), so do ``tickdeck service start live``, the monitor and admin
pages; the end of the extended session (plus a grace), ``tickdeck service stop live`` and the pages
stop it. Stopping is collect_live's own stop: the Level 1 loop ends, the materialiser process
does its last round (every acknowledged tick lands in its day) — bounded by the supervisor's
stop timeout. ``tickdeck collect --live`` runs the same collection in the foreground instead.

Params: ``symbols`` (default: the watchlist's IQFeed datasets, :func:`tickdeck.core.backfill.feed_symbols`),
``host``, ``batch_seconds``.

Its symbols change without a restart: when only ``symbols`` differ from what it runs with, the
supervisor calls :meth:`LiveCollectionService.update` (``ServiceControl.subscribe`` /
``unsubscribe``, the API's ``/feeds/subscribe``), and the running collection watches the added
symbols (their day filled in from history first) and stops storing the removed ones, whose
day it finalises (:class:`core.live.LiveSymbols`); ``tickdeck feeds subscribe|unsubscribe`` and
the monitor page's live-symbols box ask for the same. With ``TICKDECK_FEED_BACKUP`` set it fails
over to the backup feed and back (:mod:`core.failover`). Symbols the feed refused while running
are listed in the
status's params under ``rejected``.
"""

from __future__ import annotations

import threading
from typing import Callable

from tickdeck.core.service_base import ServiceConfigError, ThreadService

STOP_GRACE_S = 120  # the market triggers stop the service this long after the extended session, for late prints


class LiveCollectionService(ThreadService):
    """Stream the watchlist's trades into their days until stopped (see the module docstring)."""

    name = "live"
    description = "Level 1 live collection of the watchlist"
    RECONFIGURABLE = ("symbols",)  # params :meth:`update` applies to a running collection

    def __init__(self, ctx, **kw):
        super().__init__(ctx, **kw)
        self._lock = threading.Lock()
        self._symbols = None  # core.live.LiveSymbols of the running collection

    def update(self, params: dict) -> bool:
        """Run with ``params`` from now on without a restart, when only ``symbols`` change;
        False (the supervisor restarts it instead) when anything else changes or it is not running."""
        params = dict(params or {})
        if not self.health().alive or not params.get("symbols"):
            return False
        fixed = self.RECONFIGURABLE + ("rejected",)
        if {k: v for k, v in params.items() if k not in fixed} != \
                {k: v for k, v in self.params.items() if k not in fixed}:
            return False
        with self._lock:
            self.params["symbols"] = list(params["symbols"])
            if self._symbols is not None:
                self._symbols.set(params["symbols"])
        return True

    def _rejected(self) -> None:
        """Show what the feed refused while running in the status params."""
        if self._symbols is None:
            return
        if self._symbols.rejected:
            self.params["rejected"] = dict(self._symbols.rejected)
            self.params["symbols"] = list(self._symbols.get()[1])
        else:
            self.params.pop("rejected", None)

    def run(self, params: dict, stop: threading.Event, beat: Callable[[str], None]) -> None:
        from tickdeck.core.backfill import feed_symbols
        from tickdeck.core.live import LiveSymbols, collect_live
        from tickdeck.core.sources.iqfeed import InvalidFeedSymbol

        with self._lock:
            symbols = list(params.get("symbols") or feed_symbols(self.ctx))
            params["symbols"] = symbols  # shown in the status; the close's finalize leaves these days to this service
            self._symbols = LiveSymbols(symbols)
        if not symbols:
            raise ServiceConfigError("no symbols to collect live: the watchlist has no IQFeed dataset "
                                     "(set system_config 'watchlist' or start it with symbols)")
        label = ", ".join(symbols[:5]) + (f" and {len(symbols) - 5} more" if len(symbols) > 5 else "")
        beat(f"{label}: connecting")

        def progress(p) -> None:  # once per micro-batch (core.live: Progress("live", acknowledged, 0, "N batches"))
            self._rejected()
            now = self._symbols.get()[1]
            text = ", ".join(now[:5]) + (f" and {len(now) - 5} more" if len(now) > 5 else "")
            beat(f"{text}: {p.done:,} ticks acknowledged, {p.message}")

        try:
            s = collect_live(self.ctx, self._symbols, stop_event=stop, host=params.get("host"), progress=progress,
                             batch_seconds=float(params.get("batch_seconds", 1.0)))
        except InvalidFeedSymbol as e:
            raise ServiceConfigError(f"{e}; remove the symbol from the watchlist or the start request") from e
        beat(f"{label}: stopped after {sum(s.appended.values()):,} ticks stored in {s.batches:,} batches; "
             f"{s.stop.message}")
