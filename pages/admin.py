"""Admin page: system health, data freshness with backfill, the job queue, retention, audit log.

* **Health** — :func:`core.health.check_health` (feed, ArcticDB, SQL, Redis, disk, memory, CPU),
  one card per check with its status in words.
* **Data freshness** — each dataset's last stored day against the calendar's last completed
  trading day, the same Fresh/Stale/Outdated badge as the home cards, a *Backfill* button per
  row and *Backfill all stale* (``backfill`` jobs on the queue).
* **Job queue** — pending counts by priority (high/normal/backfill), running jobs with progress,
  failed jobs with their error, *Retry* per job and *Retry all failed*.
* **Retention** — a dry-run preview of what cleanup would delete, then a confirmation step.
* **Audit log** — the newest entries of ``ctx.catalog.audit_log()``.

Every action is recorded with ``ctx.catalog.audit(actor, action, target, details)``. When auth
is on, the page requires the admin role (``app.auth.require_role``). Slow calls (health probes,
retention) run off the event loop; the page refreshes on ``jobs`` bus events (batched, 1 s).

Renders in Jupyter: ``AdminPage(ctx=ctx)``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import threading
import time

import pandas as pd
import panel as pn
import param

from core.errors import PermissionDenied, TickdeckError
from pages.components.safe import md_text
from pages.monitor import STATUS_CSS, badge, error_text, human_bytes, job_queue, run_off_loop

REFRESH_MS = 1000  # job progress and queue counts refresh once a second while events arrive
HEALTH_EVERY_S = 30  # health probes open sockets and sample CPU for 0.1 s: not every second
FRESHNESS_ROWS = 50  # stalest datasets listed with a Backfill button (the rest are summarised)
FAILED_ROWS = 20  # failed jobs listed with a Retry button
AUDIT_ROWS = 100  # newest audit entries shown
ERROR_PREVIEW = 300  # characters of a job's error shown inline; the full traceback is in the row's details

HEALTH_KIND = {"ok": ("ok", "OK"), "degraded": ("warn", "Degraded"), "down": ("bad", "Down")}
OVERALL_KIND = {"healthy": ("ok", "Healthy"), "degraded": ("warn", "Degraded"), "unhealthy": ("bad", "Unhealthy")}


@dataclasses.dataclass(frozen=True)
class FreshnessRow:
    """One dataset's freshness: last stored day, the last completed trading day, days behind."""

    symbol: str
    last_day: dt.date | None
    expected: dt.date
    days_behind: int
    quality: float | None


def freshness(ctx) -> list[FreshnessRow]:
    """Freshness of every dataset, stalest first (``core.backfill.freshness`` when installed)."""
    try:
        from core import backfill
    except ImportError:
        backfill = None
    fn = getattr(backfill, "freshness", None) if backfill is not None else None
    if fn is not None:
        rows = []
        for r in fn(ctx):
            d = dataclasses.asdict(r) if dataclasses.is_dataclass(r) else dict(r)
            rows.append(FreshnessRow(d["symbol"], d.get("latest_day", d.get("last_day")),
                                     d.get("last_completed") or d.get("expected"),
                                     int(d.get("days_behind", 0) or 0), d.get("quality")))
        qual = {s.symbol: s.quality_score for s in ctx.catalog.datasets()}
        rows = [dataclasses.replace(r, quality=r.quality if r.quality is not None else qual.get(r.symbol)) for r in rows]
        return sorted(rows, key=lambda r: (-r.days_behind, r.symbol))
    out = []
    for ds in ctx.catalog.datasets():
        cal = ctx.calendar(ds.calendar or None)
        done = cal.last_completed_trading_day()
        if ds.last_day is None:
            behind = len(cal.previous_trading_days(done, 5))  # nothing stored: treat as far behind
        elif ds.last_day >= done:
            behind = 0
        else:
            behind = max(len(cal.trading_days(ds.last_day, done)) - 1, 1)
        out.append(FreshnessRow(ds.symbol, ds.last_day, done, behind, ds.quality_score))
    return sorted(out, key=lambda r: (-r.days_behind, r.symbol))


def current_actor(default: str = "admin") -> str:
    """The logged-in user name when auth is on, else ``default``."""
    try:
        from app.auth import current_user
    except ImportError:
        return default
    try:
        u = current_user()
    except Exception:  # noqa: BLE001 - no session (Jupyter, tests)
        return default
    name = getattr(u, "username", None) or getattr(u, "name", None) or (u if isinstance(u, str) else None)
    return name or default


def check_admin() -> None:
    """Raise :class:`PermissionDenied` when auth is on and the user is not an admin."""
    try:
        from app.auth import require_role
    except ImportError:
        return
    require_role("admin")


class AdminPage(pn.viewable.Viewer):
    """Operate the deployment: health, freshness + backfill, jobs, retention and the audit log."""

    ctx = param.Parameter(doc="core.context.Context")
    actor = param.String(default="", doc="name recorded in the audit log (default: the logged-in user)")
    autostart = param.Boolean(default=True, doc="listen to the bus and refresh periodically when rendered")
    message = param.String(default="", doc="last action result or error")

    def __init__(self, **params):
        super().__init__(**params)
        if self.ctx is None:
            raise TickdeckError("AdminPage needs ctx=Context")
        self.denied = ""
        try:
            check_admin()
        except PermissionDenied as e:
            self.denied = str(e)
        if not self.actor:
            self.actor = current_actor()
        self._dirty = threading.Event()
        self._stops: list = []
        self._callbacks: list = []
        self._health_at = 0.0
        self.health = None
        self.retention_preview = None
        self.queue = job_queue(self.ctx)

        self.message_pane = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self.health_pane = pn.pane.HTML(stylesheets=[STATUS_CSS, _ADMIN_CSS], sizing_mode="stretch_width")
        self.health_button = pn.widgets.Button(label="Re-check health", description="probe every service now")
        self.health_button.on_click(lambda _e: self.refresh_health())
        self.freshness_box = pn.Column(sizing_mode="stretch_width")
        self.backfill_all_button = pn.widgets.Button(label="Backfill all stale", color="primary",
                                                     description="queue backfill jobs for every stale dataset")
        self.backfill_all_button.on_click(lambda _e: self.backfill_all())
        self.queue_pane = pn.pane.HTML(stylesheets=[STATUS_CSS, _ADMIN_CSS], sizing_mode="stretch_width")
        self.running_box = pn.Column(sizing_mode="stretch_width")
        self.failed_box = pn.Column(sizing_mode="stretch_width")
        self.retry_all_button = pn.widgets.Button(label="Retry all failed", description="put every failed job back")
        self.retry_all_button.on_click(lambda _e: self.retry_all())
        self.preview_button = pn.widgets.Button(label="Preview cleanup (dry run)",
                                                description="show what retention would delete; deletes nothing")
        self.preview_button.on_click(lambda _e: self.preview_retention())
        self.confirm_button = pn.widgets.Button(label="Confirm: delete these", color="danger", visible=False,
                                                description="permanently delete what the preview lists")
        self.confirm_button.on_click(lambda _e: self.run_retention())
        self.cancel_button = pn.widgets.Button(label="Cancel", visible=False)
        self.cancel_button.on_click(lambda _e: self._clear_preview())
        self.retention_pane = pn.pane.HTML(stylesheets=[STATUS_CSS, _ADMIN_CSS], sizing_mode="stretch_width")
        self.audit_table = pn.widgets.Tabulator(pd.DataFrame(columns=["when", "actor", "action", "target", "details"]),
                                                show_index=False, disabled=True, pagination="local", page_size=15,
                                                sizing_mode="stretch_width")
        if not self.denied:
            self.refresh()

    # -- helpers --------------------------------------------------------------------------
    def _notify(self, text: str, kind: str = "info") -> None:
        self.message = text
        self.message_pane.object = md_text(text)  # an Alert renders Markdown: messages quote user input
        self.message_pane.alert_type = kind
        self.message_pane.visible = bool(text)

    def _audit(self, action: str, target: str = "", details: dict | None = None) -> None:
        self.ctx.catalog.audit(self.actor, action, target, details or {})

    def _require_queue(self):
        if self.queue is None:
            raise TickdeckError("the job queue (jobs package) is not installed in this build")
        return self.queue

    def _act(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - shown on the page
            self._notify(error_text(e), "danger")
        self.refresh(health=False)

    # -- refresh --------------------------------------------------------------------------
    def start_updates(self) -> None:
        if self._stops:
            return
        self._stops.append(self.ctx.bus.listen("jobs", lambda _m: self._dirty.set()))
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            self._callbacks.append(pn.state.add_periodic_callback(self._tick, period=REFRESH_MS))
            pn.state.on_session_destroyed(lambda _c: self.stop_updates())

    def stop_updates(self) -> None:
        for s in self._stops:
            s()
        self._stops.clear()
        for cb in self._callbacks:
            cb.stop()
        self._callbacks.clear()

    def _tick(self) -> None:
        if self._dirty.is_set():
            self._dirty.clear()
            self.refresh(health=False)
        if time.time() - self._health_at >= HEALTH_EVERY_S:
            self.refresh_health()

    def refresh(self, health: bool = True) -> None:
        """Re-read freshness, the queue and the audit log (and health when asked, off-loop)."""
        self._render_freshness()
        self._render_queue()
        self._render_audit()
        if health:
            self.refresh_health()

    def refresh_health(self, *, wait: bool = False) -> None:
        from core.health import check_health

        self._health_at = time.time()
        if self.health is None:
            self.health_pane.object = "<p class='td-muted'>Checking services…</p>"
        t = run_off_loop(lambda: check_health(self.ctx), self._show_health,
                         lambda e: self._notify(f"health check failed: {error_text(e)}", "danger"))
        if wait:
            t.join()

    # -- health ---------------------------------------------------------------------------
    def _show_health(self, rep) -> None:
        self.health = rep
        kind, text = OVERALL_KIND.get(rep.status, ("idle", rep.status))
        cards = []
        for c in rep.checks:
            k, label = HEALTH_KIND.get(c.status, ("idle", c.status))
            cards.append(f"<div class='td-hcard' data-check='{html.escape(c.name)}' data-status='{html.escape(c.status)}'>"
                         f"<h4>{html.escape(_CHECK_TITLES.get(c.name, c.name))}</h4>{badge(k, label)}"
                         f"<p>{html.escape(c.detail)}</p><p class='td-muted'>{c.elapsed_ms:.0f} ms</p></div>")
        sizes = "".join(f"<li>{html.escape(k)}: {human_bytes(v)}</li>" for k, v in sorted(rep.library_bytes.items()))
        at = rep.at.astimezone().strftime("%H:%M:%S")
        self.health_pane.object = (
            f"<p>{badge(kind, 'System ' + text, testid='health-overall')} "
            f"<span class='td-muted'>checked at {at}</span></p><div class='td-hgrid'>{''.join(cards)}</div>"
            + (f"<details><summary>Storage per library</summary><ul class='td-muted'>{sizes}</ul></details>" if sizes else ""))

    # -- freshness and backfill -----------------------------------------------------------
    def _render_freshness(self) -> None:
        from pages.components.status import badge_html, dataset_status

        rows = freshness(self.ctx)
        items = []
        for r in rows[:FRESHNESS_ROWS]:
            st = dataset_status(r.last_day, _unit_quality(r.quality), self.ctx.calendar(), today_done=r.expected)
            btn = pn.widgets.Button(label=f"Backfill {r.symbol}", width=150, disabled=r.days_behind == 0,
                                    description=f"queue collection of {r.symbol}'s missing days up to {r.expected}")
            btn.on_click(lambda _e, sym=r.symbol: self.backfill(sym))
            behind = "up to date" if r.days_behind == 0 else f"{r.days_behind} trading day{'s' if r.days_behind != 1 else ''} behind"
            items.append(pn.Row(
                pn.pane.HTML(f"<div class='td-frow' data-symbol='{html.escape(r.symbol)}' data-level='{st.level}'>"
                             f"<b>{html.escape(r.symbol)}</b> {badge_html(st)} "
                             f"<span>last day {r.last_day or '—'} · expected {r.expected} · {behind}</span></div>",
                             stylesheets=[_ADMIN_CSS], sizing_mode="stretch_width"),
                btn, sizing_mode="stretch_width"))
        stale = sum(1 for r in rows if r.days_behind > 0)
        more = f" (showing the {FRESHNESS_ROWS} stalest)" if len(rows) > FRESHNESS_ROWS else ""
        summary = pn.pane.HTML(f"<p class='td-muted' data-testid='freshness-summary'>{len(rows)} datasets, "
                               f"{stale} stale{more}.</p>", stylesheets=[STATUS_CSS])
        self.backfill_all_button.disabled = stale == 0
        self.freshness_box.objects = [summary, *items] if items else [
            pn.pane.HTML("<p class='td-muted'>No datasets yet.</p>", stylesheets=[STATUS_CSS])]

    def _backfill_params(self, symbol: str) -> dict:
        row = next((r for r in freshness(self.ctx) if r.symbol == symbol), None)
        if row is None:
            raise TickdeckError(f"no dataset {symbol!r} to backfill")
        cal = self.ctx.calendar()
        start = cal.trading_days(row.last_day + dt.timedelta(days=1), row.expected)[:1] if row.last_day else []
        start_day = start[0] if start else row.expected
        return {"symbols": [symbol], "start": start_day.isoformat(), "end": row.expected.isoformat()}

    def backfill(self, symbol: str) -> int | None:
        """Queue a backfill job for one dataset; audited. Returns the job id."""
        out: list[int] = []

        def act():
            params = self._backfill_params(symbol)
            job_id = self._require_queue().submit("backfill", params, priority=2, requested_by=self.actor)
            self._audit("backfill", symbol, {"job_id": job_id, **params})
            self._notify(f"Queued backfill job {job_id} for {symbol} ({params['start']} → {params['end']})", "success")
            out.append(job_id)

        self._act(act)
        return out[0] if out else None

    def backfill_all(self) -> int | None:
        """Queue one backfill job over every stale dataset; audited."""
        out: list[int] = []

        def act():
            stale = [r.symbol for r in freshness(self.ctx) if r.days_behind > 0]
            if not stale:
                raise TickdeckError("nothing is stale: every dataset is up to date")
            job_id = self._require_queue().submit("backfill", {}, priority=2, requested_by=self.actor)
            self._audit("backfill_all", ",".join(stale)[:256], {"job_id": job_id, "symbols": stale})
            self._notify(f"Queued backfill job {job_id} for {len(stale)} stale dataset(s)", "success")
            out.append(job_id)

        self._act(act)
        return out[0] if out else None

    # -- job queue ------------------------------------------------------------------------
    def _render_queue(self) -> None:
        if self.queue is None:
            self.queue_pane.object = "<p class='td-muted'>The job queue is not installed in this build.</p>"
            return
        q = self.queue
        pending = q.list(status="pending", limit=10_000)
        by_prio = {0: 0, 1: 0, 2: 0}
        for j in pending:
            by_prio[j.priority] = by_prio.get(j.priority, 0) + 1
        counts = q.counts()
        self.queue_pane.object = (
            "<dl class='td-kv' data-testid='queue-counts'>"
            f"<dt>Pending · high</dt><dd>{by_prio[0]}</dd><dt>Pending · normal</dt><dd>{by_prio[1]}</dd>"
            f"<dt>Pending · backfill</dt><dd>{by_prio[2]}</dd><dt>Running</dt><dd>{counts.get('running', 0)}</dd>"
            f"<dt>Succeeded</dt><dd>{counts.get('succeeded', 0)}</dd><dt>Failed</dt><dd>{counts.get('failed', 0)}</dd>"
            "</dl>")
        running = q.list(status="running", limit=50)
        self.running_box.objects = [
            pn.Row(pn.pane.HTML(f"<b>#{j.id} {html.escape(j.kind)}</b> {j.progress:.0f}% "
                                f"<span class='td-muted'>{html.escape(j.message)}</span>", stylesheets=[STATUS_CSS],
                                width=420),
                   pn.indicators.Progress(value=int(max(0, min(100, j.progress))), max=100, width=220,
                                          label=f"job {j.id} progress"),
                   self._cancel_button(j.id))
            for j in running] or [pn.pane.HTML("<p class='td-muted'>No job is running.</p>", stylesheets=[STATUS_CSS])]
        failed = q.list(status="failed", limit=FAILED_ROWS)
        self.retry_all_button.disabled = not failed
        self.failed_box.objects = [self._failed_row(j) for j in failed] or [
            pn.pane.HTML("<p class='td-muted'>No failed jobs.</p>", stylesheets=[STATUS_CSS])]

    def _cancel_button(self, job_id: int):
        b = pn.widgets.Button(label=f"Cancel #{job_id}", width=110, description=f"ask job {job_id} to stop")
        b.on_click(lambda _e: self.cancel_job(job_id))
        return b

    def _failed_row(self, j):
        first = (j.error.strip().splitlines() or [""])[-1][:ERROR_PREVIEW]
        b = pn.widgets.Button(label=f"Retry #{j.id}", width=110, description=f"queue job {j.id} again")
        b.on_click(lambda _e: self.retry_job(j.id))
        return pn.Row(pn.pane.HTML(
            f"<div data-job='{j.id}'><b>#{j.id} {html.escape(j.kind)}</b> {badge('bad', 'Failed')} "
            f"<span class='td-muted'>retries {j.retries}/{j.max_retries}</span><br>{html.escape(first)}"
            f"<details><summary>Traceback</summary><pre class='td-pre'>{html.escape(j.error)}</pre></details></div>",
            stylesheets=[STATUS_CSS, _ADMIN_CSS], sizing_mode="stretch_width"), b, sizing_mode="stretch_width")

    def retry_job(self, job_id: int) -> None:
        """Put one failed job back in the queue; audited."""
        def act():
            self._require_queue().retry(job_id)
            self._audit("job_retry", f"job {job_id}")
            self._notify(f"Job {job_id} queued again", "success")

        self._act(act)

    def cancel_job(self, job_id: int) -> None:
        """Cancel a pending job or ask a running one to stop; audited."""
        def act():
            self._require_queue().cancel(job_id)
            self._audit("job_cancel", f"job {job_id}")
            self._notify(f"Asked job {job_id} to stop", "info")

        self._act(act)

    def retry_all(self) -> None:
        def act():
            ids = self._require_queue().retry_all_failed()
            self._audit("job_retry_all", f"{len(ids)} jobs", {"ids": ids})
            self._notify(f"Queued {len(ids)} failed job(s) again", "success")

        self._act(act)

    # -- retention ------------------------------------------------------------------------
    def preview_retention(self, *, wait: bool = False) -> None:
        """Dry run: list what cleanup would delete; then ask for confirmation."""
        self.retention_pane.object = "<p class='td-muted'>Computing what would be deleted…</p>"
        t = run_off_loop(lambda: retention_call(self.ctx, dry_run=True), self._show_preview,
                         lambda e: self._notify(error_text(e), "danger"))
        if wait:
            t.join()

    def _show_preview(self, rep) -> None:
        self.retention_preview = rep
        text = retention_summary(rep)
        nothing = retention_is_empty(rep)
        self.retention_pane.object = (f"<div data-testid='retention-preview'>{badge('warn' if not nothing else 'ok', 'Dry run')} "
                                      f"{html.escape(text)}</div>")
        self.confirm_button.visible = self.cancel_button.visible = not nothing
        self._audit("retention_preview", "", {"summary": text})

    def _clear_preview(self) -> None:
        self.retention_preview = None
        self.confirm_button.visible = self.cancel_button.visible = False
        self.retention_pane.object = "<p class='td-muted'>Cleanup cancelled; nothing was deleted.</p>"

    def run_retention(self, *, wait: bool = False) -> None:
        """Run the confirmed cleanup (only after a preview)."""
        if self.retention_preview is None:
            self._notify("Preview the cleanup first; nothing was deleted.", "warning")
            return
        self.confirm_button.visible = self.cancel_button.visible = False
        self.retention_pane.object = "<p class='td-muted'>Deleting…</p>"

        def done(rep):
            text = retention_summary(rep)
            self._audit("retention_run", "", {"summary": text})
            self.retention_preview = None
            self.retention_pane.object = f"<div data-testid='retention-result'>{badge('ok', 'Done')} {html.escape(text)}</div>"
            self.refresh(health=False)

        t = run_off_loop(lambda: retention_call(self.ctx, dry_run=False), done,
                         lambda e: self._notify(error_text(e), "danger"))
        if wait:
            t.join()

    # -- audit ----------------------------------------------------------------------------
    def _render_audit(self) -> None:
        rows = self.ctx.catalog.audit_log(limit=AUDIT_ROWS)
        self.audit_table.value = pd.DataFrame(
            [{"when": r.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"), "actor": r.actor, "action": r.action,
              "target": r.target, "details": _short(r.details)} for r in rows],
            columns=["when", "actor", "action", "target", "details"])

    # -- layout ---------------------------------------------------------------------------
    def __panel__(self):
        if self.denied:
            return pn.Column(pn.pane.Markdown("## Admin"),
                             pn.pane.Alert(f"Admin only: {md_text(self.denied)}", alert_type="danger"))
        if self.autostart:
            self.start_updates()
        return pn.Column(
            pn.pane.Markdown("## Admin"), self.message_pane,
            pn.pane.Markdown("### System health"), self.health_pane, self.health_button,
            pn.pane.Markdown("### Data freshness"),
            pn.pane.Markdown("Each dataset's last stored day against the last completed trading day. "
                             "*Backfill* queues collection of the missing days (backfill priority)."),
            self.backfill_all_button, self.freshness_box,
            pn.pane.Markdown("### Job queue"), self.queue_pane,
            pn.pane.Markdown("#### Running"), self.running_box,
            pn.pane.Markdown("#### Failed"), self.retry_all_button, self.failed_box,
            pn.pane.Markdown("### Retention cleanup"),
            pn.pane.Markdown("Deletes tick and bar days older than the retention policy, prunes validation "
                             "history and dead letters. Preview first; nothing is deleted until you confirm."),
            pn.Row(self.preview_button, self.confirm_button, self.cancel_button), self.retention_pane,
            pn.pane.Markdown("### Audit log"), self.audit_table,
            sizing_mode="stretch_width",
        )


_CHECK_TITLES = {"feed": "Feed (IQFeed)", "arcticdb": "ArcticDB", "sql": "SQL catalog", "redis": "Redis",
                 "disk": "Disk", "memory": "Memory", "cpu": "CPU"}

_ADMIN_CSS = """
.td-hgrid { display:grid; gap:10px; grid-template-columns:repeat(auto-fill, minmax(210px, 1fr)); }
.td-hcard { border:1px solid #d0d7de; border-radius:8px; padding:8px 12px; background:#fff;
            font-family:system-ui, sans-serif; font-size:.9em; }
.td-hcard h4 { margin:0 0 6px 0; } .td-hcard p { margin:6px 0 0 0; }
.td-frow { font-family:system-ui, sans-serif; padding:6px 0; display:flex; gap:10px; align-items:center;
           flex-wrap:wrap; }
.td-pre { max-height:240px; overflow:auto; font-size:.8em; background:#f6f8fa; padding:6px; }
"""


def _unit_quality(q: float | None) -> float | None:
    """The home badge takes a 0–1 score; the validation service may report 0–100."""
    if q is None:
        return None
    return q / 100.0 if q > 1.0 else q


def _short(d: dict | None) -> str:
    if not d:
        return ""
    text = ", ".join(f"{k}={v}" for k, v in d.items())
    return text if len(text) < 160 else text[:157] + "…"


def retention_call(ctx, *, dry_run: bool):
    """Run ``core.retention`` (dry run or for real) by whichever entry point it exposes."""
    try:
        from core import retention
    except ImportError:
        raise TickdeckError("retention cleanup (core.retention) is not installed in this build") from None
    for name in ("run_retention", "apply_retention", "retention", "cleanup", "run"):
        fn = getattr(retention, name, None)
        if callable(fn):
            return fn(ctx, dry_run=dry_run)
    raise TickdeckError("core.retention exposes no run function this page knows")


def retention_summary(rep) -> str:
    """One line: what a retention report deletes (or would) and the bytes freed."""
    if rep is None:
        return "nothing to report"
    summary = getattr(rep, "summary", None)
    if callable(summary):
        return str(summary())
    d = dataclasses.asdict(rep) if dataclasses.is_dataclass(rep) else (rep if isinstance(rep, dict) else {"result": rep})
    parts = []
    for k, v in d.items():
        if k in ("dry_run",):
            continue
        if isinstance(v, (list, tuple)):
            parts.append(f"{len(v)} {k.replace('_', ' ')}")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            parts.append(f"{k.replace('_', ' ')}: {human_bytes(v) if 'bytes' in k else f'{v:,}'}")
    verb = "would delete" if d.get("dry_run", True) else "deleted"
    return f"{verb}: " + ("; ".join(parts) if parts else "nothing")


def retention_is_empty(rep) -> bool:
    d = dataclasses.asdict(rep) if dataclasses.is_dataclass(rep) else (rep if isinstance(rep, dict) else {})
    lists = [v for v in d.values() if isinstance(v, (list, tuple))]
    nums = [v for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "dry_run"]
    return bool(d) and not any(lists) and not any(nums)
