"""Feed failover for live collection: a primary and a backup IQFeed endpoint, one of them active.

:class:`FeedLink` holds the active endpoint's Level 1 and history clients and yields the Level 1
batches of whichever is active (:meth:`FeedLink.batches`). With a backup configured
(``TICKDECK_FEED_BACKUP``, :attr:`core.config.Settings.backup_feed`) it switches to the backup
when the primary fails:

* **disconnect** — the primary's Level 1 connection closed and :attr:`FailoverPolicy.reconnects`
  reconnect attempts failed;
* **breaker_open** — the circuit breaker of the primary's Level 1 or history client is open;
* **stale** — no trade for :attr:`FailoverPolicy.stale_s` seconds during the regular session,
  measured on the market clock the collector runs on (the demo/emulator clock when one is
  configured, else the wall clock; tests inject the emulator's);
* **history_failed** — a gap fill from the primary's history failed after its retries
  (:meth:`FeedLink.request_switch`, asked by the collector).

While on the backup a :class:`PrimaryProbe` thread checks the primary every
:attr:`FailoverPolicy.probe_every_s` seconds (:func:`core.sources.iqfeed.probe`: both ports answer,
a heartbeat arrives — and a trade, when it failed by going stale); once it is healthy the link
switches back (**primary_healthy**). A failing backup switches back too (**backup_failed**).

Every switch is a :class:`core.events.FeedSwitched` on ``collection`` (what the monitor lists,
what ``feed:failover`` alert rules watch, what :mod:`core.feed_status` keeps), and the first batch
from the new endpoint is flagged ``reconnected``: the collector then moves what it journaled into
the days and fills the gap from the new endpoint's history from each symbol's last acknowledged
tick, dropping ticks it has by tick id, so the days have no hole and no repeat across a switch.

Without a backup the link is the plain single-endpoint client: the Level 1 client reconnects to
the one feed until stopped, as before.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import pandas as pd

from tickdeck.core.config import FeedEndpoint
from tickdeck.core.events import FeedSwitched
from tickdeck.core.sources.iqfeed import (CircuitBreaker, CircuitOpen, FeedDisconnected, HistoryClient, L1Batch,
                                          Level1Client, backoff_delay, probe)

log = logging.getLogger(__name__)

ET = "America/New_York"


@dataclass(frozen=True)
class FailoverPolicy:
    """When the primary counts as failed and how the way back is checked."""

    stale_s: float = 30.0  # no trade this long in the regular session (market clock): failed
    probe_every_s: float = 5.0  # on the backup, probe the primary this often (wall clock)
    probe_timeout_s: float = 2.0  # a probe waits this long for a heartbeat (and a trade)
    reconnects: int = 1  # reconnect attempts to a disconnected endpoint before switching
    history_attempts: int = 2  # tries per history request before a gap fill counts as failed

    @classmethod
    def from_settings(cls, settings) -> "FailoverPolicy":
        return cls(stale_s=float(settings.feed_stale_s), probe_every_s=float(settings.feed_probe_s))


def market_clock(settings) -> Callable[[], float]:
    """Epoch seconds on the market clock: the demo feed's emulated clock when configured, else the wall clock."""
    from tickdeck.core.demo_clock import market_now

    def now() -> float:
        ts = market_now(settings)
        return ts.timestamp() if ts is not None else time.time()

    return now


class PrimaryProbe:
    """A daemon thread probing an endpoint until it is healthy (then :attr:`healthy` is set) or closed."""

    def __init__(self, endpoint: FeedEndpoint, symbols, policy: FailoverPolicy, *, need_trade: bool):
        self.endpoint, self.policy, self.need_trade = endpoint, policy, need_trade
        self.symbols = tuple(symbols)
        self.healthy = threading.Event()
        self.last_why = ""
        self.probes = 0
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tickdeck-feed-probe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ep = self.endpoint
        while not self._halt.wait(self.policy.probe_every_s):
            r = probe(ep.host, ep.port_history, ep.port_l1, self.symbols, timeout=self.policy.probe_timeout_s,
                      need_trade=self.need_trade)
            self.probes += 1
            self.last_why = r.why
            if r.healthy:
                self.healthy.set()
                return

    def close(self) -> None:
        self._halt.set()
        if self._thread is not threading.current_thread():
            self._thread.join(self.policy.probe_timeout_s + 5)


class FeedLink:
    """The active endpoint's clients, switching between primary and backup (see the module docstring).

    ``l1`` and ``hist`` are the active endpoint's clients: read them anew after each batch (a switch
    replaces them). :meth:`watch` / :meth:`unwatch` go to the active Level 1 client and follow a
    switch. Call everything from the thread that iterates :meth:`batches`.
    """

    def __init__(self, primary: FeedEndpoint, backup: FeedEndpoint | None = None, *, bus=None, calendar=None,
                 clock: Callable[[], float] = time.time, policy: FailoverPolicy | None = None):
        self.endpoints = {"primary": primary, "backup": backup}
        self.bus, self.calendar, self.clock = bus, calendar, clock
        self.policy = policy or FailoverPolicy()
        self.role = "primary"
        self.switches: list[FeedSwitched] = []
        self.probe: PrimaryProbe | None = None
        self._want: tuple[str, str] | None = None
        self._switched = False
        self._server_time = None
        self._last_trade = clock()
        self.l1, self.hist = self._clients(primary)

    @property
    def failover(self) -> bool:
        """Whether a backup is configured (else the link never switches)."""
        return self.endpoints["backup"] is not None

    @property
    def switch_pending(self) -> bool:
        """A switch was asked for and happens before the next batch."""
        return self._want is not None

    @property
    def active(self) -> FeedEndpoint:
        return self.endpoints[self.role]

    def _clients(self, ep: FeedEndpoint) -> tuple[Level1Client, HistoryClient]:
        if not self.failover:
            return (Level1Client(ep.host, ep.port_l1, bus=self.bus),
                    HistoryClient(ep.host, ep.port_history, bus=self.bus))
        return (Level1Client(ep.host, ep.port_l1, bus=self.bus, max_reconnects=self.policy.reconnects),
                HistoryClient(ep.host, ep.port_history, bus=self.bus, max_attempts=self.policy.history_attempts))

    # -- the Level 1 client's verbs, on the active endpoint ---------------------------------------
    def connect(self, symbols) -> None:
        self.l1.connect(symbols)
        self._last_trade = self.clock()

    def watch(self, symbols) -> list[str]:
        return self.l1.watch(symbols)

    def unwatch(self, symbols) -> list[str]:
        return self.l1.unwatch(symbols)

    def close(self) -> None:
        if self.probe is not None:
            self.probe.close()
            self.probe = None
        self.l1.close()
        self.hist.close()

    # -- switching ------------------------------------------------------------------------------
    def request_switch(self, reason: str, detail: str = "") -> bool:
        """Ask for a switch to the other endpoint before the next batch (no-op without a backup)."""
        if not self.failover or self._want is not None:
            return False
        self._want = (reason, detail)
        return True

    def _check(self) -> None:
        """The failure and recovery conditions, after every batch."""
        if not self.failover or self._want is not None:
            return
        if self.role == "backup":
            if self.probe is not None and self.probe.healthy.is_set():
                ep = self.endpoints["primary"]
                self.request_switch("primary_healthy", f"the primary {ep} answers again")
            return
        for client, what in ((self.l1, "Level 1"), (self.hist, "history")):
            if client.breaker.state == CircuitBreaker.OPEN:
                self.request_switch("breaker_open", f"the primary's {what} circuit breaker is open")
                return
        if self.policy.stale_s > 0 and self.calendar is not None:
            now = self.clock()
            ts = pd.Timestamp(now, unit="s", tz="UTC").tz_convert(ET)
            if not self.calendar.is_trading_day(ts.date()):
                return
            b = self.calendar.bounds(ts.date())
            if not (b.open <= ts < b.close):
                return
            quiet = now - max(self._last_trade, b.open.timestamp())
            if quiet >= self.policy.stale_s:
                self.request_switch("stale", f"no trade from the primary for {quiet:.0f} s of the market clock "
                                             f"(limit {self.policy.stale_s:g} s)")

    def _switch(self, stop: threading.Event) -> None:
        reason, detail = self._want
        self._want = None
        origin = self.role
        symbols = self.l1.symbols
        old = self.active
        self.l1.close()
        self.hist.close()
        target = "backup" if origin == "primary" else "primary"
        attempt = 0
        while not stop.is_set():
            self.l1, self.hist = self._clients(self.endpoints[target])
            try:
                self.l1.connect(symbols)
                break
            except (FeedDisconnected, CircuitOpen) as e:  # down too: try the other one again after a pause
                log.warning("feed %s (%s) refused the switch: %s", target, self.endpoints[target], e)
                self.l1.close()
                self.hist.close()
                target = "backup" if target == "primary" else "primary"
                attempt += 1
                stop.wait(backoff_delay(attempt))
        if stop.is_set():
            return
        self.role = target
        self._last_trade = self.clock()
        self._switched = True
        if self.probe is not None:
            self.probe.close()
            self.probe = None
        if target == "backup":
            self.probe = PrimaryProbe(self.endpoints["primary"], symbols, self.policy, need_trade=reason == "stale")
        if target != origin:
            ev = FeedSwitched(str(old), str(self.active), target, reason, detail, float(self.clock()), time.time())
            self.switches.append(ev)
            log.warning("live collection switched from the %s feed %s to the %s feed %s: %s (%s)",
                        origin, old, target, self.active, reason, detail)
            if self.bus is not None:
                self.bus.publish(ev)

    # -- batches ---------------------------------------------------------------------------------
    def batches(self, *, batch_seconds: float, stop_event: threading.Event, flush_after: float) -> Iterator[L1Batch]:
        """The active endpoint's Level 1 batches until ``stop_event``; the first batch after a switch is
        flagged ``reconnected`` and carries the last known server time until the new feed's first heartbeat."""
        while not stop_event.is_set():
            inner = self.l1.batches(batch_seconds=batch_seconds, stop_event=stop_event, flush_after=flush_after)
            try:
                for b in inner:
                    if b.server_time is not None:
                        self._server_time = b.server_time
                    elif self._server_time is not None:
                        b = dataclasses.replace(b, server_time=self._server_time)
                    if self._switched:
                        b = dataclasses.replace(b, reconnected=True)
                        self._switched = False
                    if b.parsed.raw["tick_id"].size or len(b.parsed.stats):  # a statistics-only watch list too
                        self._last_trade = self.clock()
                    self._check()
                    yield b
                    if self._want is not None:
                        break
            except FeedDisconnected as e:
                if not self.failover:
                    raise
                self.request_switch("disconnect" if self.role == "primary" else "backup_failed", str(e))
            finally:
                inner.close()
            if self._want is not None and not stop_event.is_set():
                self._switch(stop_event)
