"""The ``alerts`` service: evaluates the stored alert rules on the bus's events, supervised by
:mod:`core.services`.

It listens to the topics ``indicators`` (IndicatorUpdate, StatisticUpdated), ``validation``
(ValidationDone), ``health`` (QualityScored), ``collection`` (FeedStatusChanged) and, while a
``feed:stale`` rule exists, ``ticks.*`` (TicksAppended: only the time a batch arrived). The bus's
callbacks only queue messages; the service's thread feeds them to :class:`tickdeck.core.alerts.AlertEngine`,
runs the time-driven checks (``feed:stale``) every :data:`CHECK_S`, counts dead letters of the
last minute every :data:`DEAD_LETTERS_S` (``deadletters`` rules) and reloads the rules when
:func:`core.alert_store.rules_version` moves (polled every :data:`RULES_POLL_S`: the CLI, the API
or a page may change them in another process).

Each firing is stored in ``alert_history``, published as :class:`core.events.AlertFired` (topic
``alerts``: ``/ws/alerts`` and the pages) and, when the rule has a webhook URL, POSTed there as
JSON by a small pool of worker threads — a slow or failing webhook never delays evaluation. A
delivery is retried on connection errors, timeouts, HTTP 429 and 5xx, up to
:data:`WEBHOOK_ATTEMPTS` attempts with exponential backoff (``tenacity``), and its outcome
(delivered or failed, attempts, last error) is recorded on the history row. Deliveries the
service could not make before it stopped (queued, or cut short by the stop) are recorded failed; so
are those a crashed run left pending, at the next start.

Params: ``check_s`` (time-driven checks, default :data:`CHECK_S`), ``rules_poll_s``
(:data:`RULES_POLL_S`), ``dead_letters_s`` (:data:`DEAD_LETTERS_S`), ``backoff_s`` (first webhook
retry delay, :data:`WEBHOOK_BACKOFF_S`), ``attempts`` (:data:`WEBHOOK_ATTEMPTS`).
"""

from __future__ import annotations

import collections
import functools
import ipaddress
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from tickdeck.core.alert_rules import AlertNotFound
from tickdeck.core.errors import TickdeckError
from tickdeck.core.service_base import ThreadService

log = logging.getLogger(__name__)

TOPICS = ("indicators", "validation", "health", "collection")
CHECK_S = 1.0  # feed:stale resolution: an outage is noticed within this much of its 30 s
RULES_POLL_S = 2.0  # rule changes from other processes take effect within this long
DEAD_LETTERS_S = 10.0  # how often the dead letters of the last minute are counted
DEAD_LETTERS_WINDOW_S = 60.0  # deadletters rules are "per minute"
QUEUE_MAX = 100_000  # messages waiting for the engine; beyond this the oldest are dropped (and counted)
WEBHOOK_WORKERS = 4  # concurrent webhook deliveries; more rules with webhooks queue behind these
WEBHOOK_TIMEOUT_S = 5.0  # one POST's connect + answer
WEBHOOK_ATTEMPTS = 5  # tries of one delivery before it is recorded failed
WEBHOOK_BACKOFF_S = 1.0  # first retry delay; doubles per retry (1, 2, 4, 8 s)
WEBHOOK_BACKOFF_MAX_S = 30.0
USER_AGENT = "tickdeck-alerts/1"


class _Stopped(Exception):
    """A webhook's backoff wait was ended by the service's stop."""


class WebhookError(TickdeckError):
    """A webhook POST failed; ``retry`` says whether trying again may help."""

    def __init__(self, url: str, reason: str, *, retry: bool):
        self.retry = retry
        super().__init__(f"webhook {url}: {reason}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Webhook answers are not followed to another URL (a redirect could point inside the network)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def check_webhook_target(url: str) -> None:
    """Refuse a webhook whose host resolves to a loopback, private, link-local, multicast, reserved or
    unspecified address, so an alert rule cannot make the server call its own network (the target is
    checked at every delivery, after DNS; ``TICKDECK_ALERT_WEBHOOK_ALLOW_PRIVATE=true`` allows them).

    Raises
    ------
    WebhookError
        The host does not resolve (retry) or resolves to such an address (no retry).
    """
    parts = urllib.parse.urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except OSError as e:
        raise WebhookError(url, f"host {parts.hostname!r} does not resolve: {e}", retry=True) from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or \
                ip.is_unspecified:
            raise WebhookError(url, f"refused: {parts.hostname} resolves to {ip}, an internal address "
                                    "(set TICKDECK_ALERT_WEBHOOK_ALLOW_PRIVATE=true to allow)", retry=False)


def post_json(url: str, payload: dict, *, timeout: float = WEBHOOK_TIMEOUT_S, allow_private: bool = False) -> int:
    """POST ``payload`` as JSON to ``url``; the HTTP status. Redirects are not followed; unless
    ``allow_private``, internal addresses are refused (:func:`check_webhook_target`).

    Raises
    ------
    WebhookError
        Refused, not reachable, timed out, redirected, or answered with a status of 400 or more
        (retry for 429 and 5xx).
    """
    if not allow_private:
        check_webhook_target(url)
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": USER_AGENT})
    try:
        with _opener.open(req, timeout=timeout) as resp:  # http(s) checked by validate_rule
            resp.read()
            return resp.status
    except urllib.error.HTTPError as e:
        raise WebhookError(url, f"HTTP {e.code} {e.reason}", retry=e.code == 429 or e.code >= 500) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise WebhookError(url, f"{type(e).__name__}: {reason}", retry=True) from None


def firing_payload(firing, history_id: int) -> dict:
    """The JSON a webhook receives for one firing."""
    import datetime as dt

    r = firing.rule
    return {"type": "AlertFired", "alert_id": r.id, "history_id": history_id, "name": r.name, "owner": r.owner,
            "watch": r.watch, "series": firing.series, "condition": r.condition, "threshold": r.threshold,
            "value": firing.value, "message": firing.message, "at": firing.at,
            "at_iso": dt.datetime.fromtimestamp(firing.at, dt.timezone.utc).isoformat()}


class AlertsService(ThreadService):
    """Evaluate alert rules on bus events, store, publish and deliver firings (see the module docstring)."""

    name = "alerts"
    description = "alert engine: rules over indicators, data quality and feed signals"

    def __init__(self, ctx, *, clock: Callable[[], float] = time.time, calendar=None,
                 post: Callable[[str, dict], int] | None = None):
        super().__init__(ctx, clock=clock)
        self.calendar = calendar
        self.post = post or functools.partial(post_json, allow_private=ctx.settings.alert_webhook_allow_private)
        self._queue: collections.deque = collections.deque()
        self._wake = threading.Event()
        self.dropped = 0
        self.fired = 0
        self.delivered = 0
        self.delivery_failed = 0
        self._pending: set = set()
        self._lock = threading.Lock()
        self.engine = None

    # -- bus side (publisher threads) ---------------------------------------------------------
    def _offer(self, msg) -> None:
        q = self._queue
        if len(q) >= QUEUE_MAX:
            q.popleft()
            self.dropped += 1
        q.append(msg)
        self._wake.set()

    # -- the service's thread -----------------------------------------------------------------
    def run(self, params: dict, stop: threading.Event, beat: Callable[[str], None]) -> None:
        from tickdeck.core.alert_store import abandon_pending, dead_letters_since, list_rules, rules_version
        from tickdeck.core.alerts import AlertEngine

        check_s = float(params.setdefault("check_s", CHECK_S))
        rules_poll_s = float(params.setdefault("rules_poll_s", RULES_POLL_S))
        dead_letters_s = float(params.setdefault("dead_letters_s", DEAD_LETTERS_S))
        cat, bus = self.ctx.catalog, self.ctx.bus
        stale = abandon_pending(cat, error="the alerts service stopped (or crashed) before delivering it")
        if stale:
            log.warning("%s webhook deliveries of an earlier run were never made: recorded as failed", stale)
        version = rules_version(cat)
        self.engine = engine = AlertEngine(list_rules(cat), self.clock, calendar=self.calendar)
        unlisten = [bus.listen(t, self._offer) for t in TOPICS]
        tick_unlisten = bus.listen("ticks.*", self._offer) if engine.watches_ticks else None
        pool = ThreadPoolExecutor(WEBHOOK_WORKERS, thread_name_prefix="tickdeck-alert-webhook")
        mono = time.monotonic
        next_rules = next_check = next_dead = mono()
        try:
            beat(f"{len(engine.rules)} rules")
            while not stop.is_set():
                self._wake.wait(max(min(next_check, next_rules) - mono(), 0.0))
                self._wake.clear()
                firings = []
                q = self._queue
                while q:
                    firings += engine.feed(q.popleft())
                now = mono()
                if now >= next_rules:
                    next_rules = now + rules_poll_s
                    v = rules_version(cat)
                    if v != version:
                        version = v
                        engine.set_rules(list_rules(cat))
                        if engine.watches_ticks and tick_unlisten is None:
                            tick_unlisten = bus.listen("ticks.*", self._offer)
                        elif not engine.watches_ticks and tick_unlisten is not None:
                            tick_unlisten()
                            tick_unlisten = None
                if now >= next_check:
                    next_check = now + check_s
                    firings += engine.check()
                    if engine.watches_dead_letters and now >= next_dead:
                        next_dead = now + dead_letters_s
                        t = self.clock()
                        firings += engine.dead_letters(dead_letters_since(cat, t - DEAD_LETTERS_WINDOW_S), t)
                for f in firings:
                    self._fire(f, pool, params, stop)
                beat(f"{len(engine.rules)} rules, {self.fired} fired, {len(self._pending)} webhooks pending"
                     + (f", {self.dropped} events dropped" if self.dropped else ""))
        finally:
            for u in unlisten:
                u()
            if tick_unlisten is not None:
                tick_unlisten()
            pool.shutdown(wait=True, cancel_futures=True)  # running deliveries end: their backoff waits on stop
            with self._lock:
                left, self._pending = set(self._pending), set()
            abandon_pending(cat, left)  # queued behind the pool's workers, never started

    def _fire(self, firing, pool, params: dict, stop: threading.Event) -> None:
        from tickdeck.core.alert_store import record_firing
        from tickdeck.core.events import AlertFired

        r = firing.rule
        try:
            hid = record_firing(self.ctx.catalog, firing, delivery="pending" if r.webhook_url else "none")
        except AlertNotFound:
            return
        self.fired += 1
        self.ctx.bus.publish(AlertFired(r.id, hid, r.name, r.owner, r.watch, r.condition, firing.value,
                                        r.threshold, firing.message, firing.at))
        if r.webhook_url:
            with self._lock:
                self._pending.add(hid)
            pool.submit(self._deliver, firing, hid, params, stop)

    def _deliver(self, firing, hid: int, params: dict, stop: threading.Event) -> None:
        """POST one firing, retried with exponential backoff; record the outcome (a worker thread).

        A stop request ends a backoff wait at once and the delivery is recorded failed with its last error."""
        from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

        from tickdeck.core.alert_store import record_delivery

        url, payload = firing.rule.webhook_url, firing_payload(firing, hid)
        base = float(params.get("backoff_s", WEBHOOK_BACKOFF_S))
        last = {"error": "", "attempts": 0}

        def attempt() -> int:
            last["attempts"] += 1
            try:
                return self.post(url, payload)
            except Exception as e:
                last["error"] = str(e)
                raise

        def sleep(seconds: float) -> None:
            if stop.wait(seconds):
                raise _Stopped()

        retrying = Retrying(stop=stop_after_attempt(int(params.get("attempts", WEBHOOK_ATTEMPTS))),
                            wait=wait_exponential(multiplier=base, min=base, max=WEBHOOK_BACKOFF_MAX_S),
                            retry=retry_if_exception(lambda e: isinstance(e, WebhookError) and e.retry),
                            sleep=sleep, reraise=False)
        ok, error = False, ""
        try:
            retrying(attempt)
            ok = True
        except _Stopped:
            error = f"{last['error']}; not retried: the alerts service stopped"
        except RetryError:
            error = last["error"]
        except Exception:  # noqa: BLE001 - a permanent failure (4xx) or a bug: recorded, never raised
            error = last["error"]
        attempts = last["attempts"]
        try:
            record_delivery(self.ctx.catalog, hid, ok=ok, attempts=attempts, error=error)
        except Exception:  # noqa: BLE001 - the database may be gone at shutdown
            log.exception("could not record the webhook delivery of alert history %s", hid)
        if ok:
            self.delivered += 1
        else:
            self.delivery_failed += 1
            log.warning("alert %s (history %s): webhook failed after %s attempt(s): %s",
                        firing.rule.name, hid, attempts, error)
        with self._lock:
            self._pending.discard(hid)
