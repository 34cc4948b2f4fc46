"""Admin page: system health, data freshness with backfill, the job queue, retention, audit log.

* **Health** — :func:`core.health.check_health` (feed, ArcticDB, SQL, Redis, disk, memory, CPU),
  one card per check with its status in words; a degraded or unhealthy banner names the checks
  behind it (CPU only after a sustained minute above the threshold: :class:`core.health.CpuWindow`).
* **Data freshness** — :func:`core.status.dataset_statuses`: each dataset's last stored day
  against its calendar's last completed trading day, quality on the 0–100 scale, failing days
  and the last failed collection (e.g. a backfill's collect job the feed refused), with the
  same badge as the home cards, a *Backfill* button per row and *Backfill all stale*
  (``backfill`` jobs on the queue).
* **Job queue** — pending counts by priority (high/normal/backfill), running jobs with progress,
  failed jobs with their error, *Retry* per job and *Retry all failed*.
* **Retention** — a dry-run preview of what cleanup would delete, then a confirmation step.
* **Audit log** — the newest entries of ``ctx.catalog.audit_log()``.
* **API keys** — list, create (the secret shown once) and revoke keys through the injected
  ``keys`` control (:class:`core.users.ApiKeyControl`; :mod:`pages.components.api_keys`).

Every action is recorded with ``ctx.catalog.audit(actor, action, target, details)``. The page
is given its user and a jobs facade (see :mod:`pages.components.services`); it shows nothing
but a refusal to a user below the admin role (the server also checks the route's role). Slow
calls (health probes, retention) run off the event loop; the page refreshes on ``jobs`` bus
events (batched, 1 s).

Renders in Jupyter: ``AdminPage(ctx=ctx, jobs=JobQueue.for_context(ctx))`` (the local admin).
"""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
import time

import pandas as pd
import panel as pn
import param

from tickdeck.core.errors import TickdeckError
from tickdeck.core.health import check_health, degraded_checks
from tickdeck.core.retention import RetentionReport, apply_retention
from tickdeck.core.status import DatasetStatus, dataset_statuses
from tickdeck.core.users import User
from tickdeck.pages.components.safe import md_text
from tickdeck.pages.components.services import LOCAL_ADMIN
from tickdeck.pages.components.status import badge_html, quality_html
from tickdeck.pages.components.ui import (STATUS_CSS, badge, empty_state_html, error_text, human_bytes, quiet_periodic,
                                          run_off_loop)

REFRESH_MS = 1000  # job progress and queue counts refresh once a second while events arrive
HEALTH_EVERY_S = 30  # health probes open sockets and sample CPU for 0.1 s: not every second
FRESHNESS_ROWS = 50  # datasets listed with a Backfill button, worst first (the rest are summarised)
FAILED_ROWS = 20  # failed jobs listed with a Retry button
AUDIT_ROWS = 100  # newest audit entries shown
ERROR_PREVIEW = 300  # characters of a job's error shown inline; the full traceback is in the row's details

HEALTH_KIND = {"ok": ("ok", "OK"), "degraded": ("warn", "Degraded"), "down": ("bad", "Down")}
OVERALL_KIND = {"healthy": ("ok", "Healthy"), "degraded": ("warn", "Degraded"), "unhealthy": ("bad", "Unhealthy")}


_LEVEL_RANK = {"bad": 2, "warn": 1, "ok": 0}


def freshness_rows(ctx, *, now=None) -> list[DatasetStatus]:
    """Every dataset's status, worst first: failing and red, then amber, then most days behind."""
    return sorted(dataset_statuses(ctx, now=now),
                  key=lambda st: (-_LEVEL_RANK[st.level], -st.days_behind, st.symbol))


class AdminPage(pn.viewable.Viewer):
    """Operate the deployment: health, freshness + backfill, jobs, retention and the audit log."""

    ctx = param.Parameter(doc="tickdeck.core.context.Context")
    user = param.ClassSelector(class_=User, default=LOCAL_ADMIN, instantiate=False,
                               doc="who is looking (injected by the server; a notebook is the local admin)")
    jobs = param.Parameter(default=None, doc="jobs facade (tickdeck.pages.components.services.JobsFacade); "
                                             "None: job actions say the queue is not available")
    services = param.Parameter(default=None, doc="services facade (tickdeck.core.services.ServiceControl, injected); "
                                                 "None: no services panel actions")
    keys = param.Parameter(default=None, doc="API key control (tickdeck.core.users.ApiKeyControl, injected); "
                                             "None: no API keys section")
    cpu = param.Parameter(default=None, doc="tickdeck.core.health.CpuWindow the CPU samples join (default: the "
                                            "process's window; tests inject a sampler and clock)")
    actor = param.String(default="", doc="name recorded in the audit log (default: the user's name)")
    autostart = param.Boolean(default=True, doc="listen to the bus and refresh periodically when rendered")
    message = param.String(default="", doc="last action result or error")

    def __init__(self, **params):
        super().__init__(**params)
        if self.ctx is None:
            raise TickdeckError("AdminPage needs ctx=Context")
        self.denied = "" if self.user.has("admin") else (
            f"this page needs the admin role; {self.user.name} is a {self.user.role}")
        if not self.actor:
            self.actor = self.user.name
        self._dirty = threading.Event()
        self._stops: list = []
        self._callbacks: list = []
        self._health_at = 0.0
        self.health = None
        self.retention_preview = None

        self.message_pane = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self.health_pane = pn.pane.HTML(stylesheets=[STATUS_CSS, _ADMIN_CSS], sizing_mode="stretch_width")
        self.health_button = pn.widgets.Button(label="Re-check health", description="probe every service now")
        self.health_button.on_click(lambda _e: self.refresh_health())
        self.freshness_box = pn.Column(sizing_mode="stretch_width")
        self.backfill_all_button = pn.widgets.Button(label="Backfill all stale", color="primary",
                                                     description="queue backfill jobs for every stale dataset")
        self.backfill_all_button.on_click(lambda _e: self.backfill_all())
        self.indicators_button = pn.widgets.Button(label="Build indicators history",
                                                   description="queue the indicators build over every stored tick day")
        self.indicators_button.on_click(lambda _e: self.build_indicators_history())
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

    def _require_jobs(self):
        if self.jobs is None:
            raise TickdeckError("no job queue was given to this page: pass jobs=… (the server does)")
        return self.jobs

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
            self._callbacks.append(quiet_periodic(self._tick, REFRESH_MS))
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
        self._health_at = time.time()
        if self.health is None:
            self.health_pane.object = "<p class='td-muted'>Checking services…</p>"
        t = run_off_loop(lambda: check_health(self.ctx, cpu=self.cpu), self._show_health,
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
            cards.append(f"<div class='td-hcard' data-check='{html.escape(c.name)}' "
                         f"data-status='{html.escape(c.status)}'>"
                         f"<h4>{html.escape(_CHECK_TITLES.get(c.name, c.name))}</h4>{badge(k, label)}"
                         f"<p>{html.escape(check_detail(c))}</p><p class='td-muted'>{c.elapsed_ms:.0f} ms</p></div>")
        sizes = "".join(f"<li>{html.escape(k)}: {human_bytes(v)}</li>" for k, v in sorted(rep.library_bytes.items()))
        at = rep.at.astimezone().strftime("%H:%M:%S")
        bad = degraded_checks(rep)
        why = "; ".join(f"{_CHECK_TITLES.get(c.name, c.name)} {HEALTH_KIND.get(c.status, ('', c.status))[1].lower()}: "
                        f"{check_detail(c)}" for c in bad)
        why_html = (f" <span data-testid='health-why' data-checks='{html.escape(' '.join(c.name for c in bad))}'>"
                    f"— {html.escape(why)}</span>" if bad else "")
        self.health_pane.object = (
            f"<p>{badge(kind, 'System ' + text, testid='health-overall')}{why_html} "
            f"<span class='td-muted'>checked at {at}</span></p><div class='td-hgrid'>{''.join(cards)}</div>"
            + (f"<details><summary>Storage per library</summary><ul class='td-muted'>{sizes}</ul></details>"
               if sizes else ""))

    # -- freshness and backfill -----------------------------------------------------------
    def _render_freshness(self) -> None:
        rows = freshness_rows(self.ctx)
        items = []
        for st in rows[:FRESHNESS_ROWS]:
            btn = pn.widgets.Button(label=f"Backfill {st.symbol}", width=150,
                                    disabled=not (st.stale or st.state == "failing"),
                                    description=f"queue collection of {st.symbol}'s missing days "
                                                f"up to {st.expected_day}")
            btn.on_click(lambda _e, sym=st.symbol: self.backfill(sym))
            items.append(pn.Row(pn.pane.HTML(freshness_html(st), stylesheets=[STATUS_CSS, _ADMIN_CSS],
                                             sizing_mode="stretch_width"), btn, sizing_mode="stretch_width"))
        stale = sum(1 for st in rows if st.stale)
        failing = sum(1 for st in rows if st.state == "failing")
        more = f" (showing the {FRESHNESS_ROWS} that need attention most)" if len(rows) > FRESHNESS_ROWS else ""
        summary = pn.pane.HTML(f"<p class='td-muted' data-testid='freshness-summary'>{len(rows)} datasets, "
                               f"{stale} stale, {failing} with a failed collection{more}.</p>",
                               stylesheets=[STATUS_CSS])
        self.backfill_all_button.disabled = stale == 0
        self.freshness_box.objects = [summary, *items] if items else [
            pn.pane.HTML(empty_state_html("No datasets yet", "Freshness, backfills and retention apply once data "
                                          "is stored. Add data one of these ways:"), sizing_mode="stretch_width")]

    def _backfill_params(self, symbol: str) -> dict:
        st = next((s for s in dataset_statuses(self.ctx) if s.symbol == symbol), None)
        if st is None:
            raise TickdeckError(f"no dataset {symbol!r} to backfill")
        cal = self.ctx.calendar_for(symbol)
        after = cal.trading_days(st.last_day + dt.timedelta(days=1), st.expected_day)[:1] if st.last_day else []
        start_day = after[0] if after else (st.first_day if st.state == "failing" and st.first_day else st.expected_day)
        return {"symbols": [symbol], "start": start_day.isoformat(), "end": st.expected_day.isoformat()}

    def backfill(self, symbol: str) -> int | None:
        """Queue a backfill job for one dataset; audited. Returns the job id."""
        out: list[int] = []

        def act():
            params = self._backfill_params(symbol)
            job_id = self._require_jobs().submit("backfill", params, priority=2, requested_by=self.actor)
            self._audit("backfill", symbol, {"job_id": job_id, **params})
            self._notify(f"Queued backfill job {job_id} for {symbol} ({params['start']} → {params['end']})", "success")
            out.append(job_id)

        self._act(act)
        return out[0] if out else None

    def backfill_all(self) -> int | None:
        """Queue one backfill job over every stale dataset; audited."""
        out: list[int] = []

        def act():
            stale = [st.symbol for st in dataset_statuses(self.ctx) if st.stale]
            if not stale:
                raise TickdeckError("nothing is stale: every dataset is up to date")
            job_id = self._require_jobs().submit("backfill", {}, priority=2, requested_by=self.actor)
            self._audit("backfill_all", ",".join(stale)[:256], {"job_id": job_id, "symbols": stale})
            self._notify(f"Queued backfill job {job_id} for {len(stale)} stale dataset(s)", "success")
            out.append(job_id)

        self._act(act)
        return out[0] if out else None

    def build_indicators_history(self) -> int | None:
        """Queue the ``indicators_build`` job over the stored tick days (first to last); audited."""
        from tickdeck.core.indicators.build import all_days

        out: list[int] = []

        def act():
            days = all_days(self.ctx)
            if not days:
                raise TickdeckError("no tick days are stored: collect or import some first")
            params = {"start": days[0].isoformat(), "end": days[-1].isoformat()}
            job_id = self._require_jobs().submit("indicators_build", params, priority=2, requested_by=self.actor)
            self._audit("indicators_build", f"{params['start']}..{params['end']}", {"job_id": job_id, **params})
            self._notify(f"Queued indicators build job {job_id} for {params['start']} … {params['end']}", "success")
            out.append(job_id)

        self._act(act)
        return out[0] if out else None

    # -- job queue ------------------------------------------------------------------------
    def _render_queue(self) -> None:
        if self.jobs is None:
            self.queue_pane.object = "<p class='td-muted'>No job queue was given to this page (jobs=…).</p>"
            return
        q = self.jobs
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
            self._require_jobs().retry(job_id)
            self._audit("job_retry", f"job {job_id}")
            self._notify(f"Job {job_id} queued again", "success")

        self._act(act)

    def cancel_job(self, job_id: int) -> None:
        """Cancel a pending job or ask a running one to stop; audited."""
        def act():
            self._require_jobs().cancel(job_id)
            self._audit("job_cancel", f"job {job_id}")
            self._notify(f"Asked job {job_id} to stop", "info")

        self._act(act)

    def retry_all(self) -> None:
        def act():
            ids = self._require_jobs().retry_all_failed()
            self._audit("job_retry_all", f"{len(ids)} jobs", {"ids": ids})
            self._notify(f"Queued {len(ids)} failed job(s) again", "success")

        self._act(act)

    # -- retention ------------------------------------------------------------------------
    def preview_retention(self, *, wait: bool = False) -> None:
        """Dry run: list what cleanup would delete; then ask for confirmation."""
        self.retention_pane.object = "<p class='td-muted'>Computing what would be deleted…</p>"
        t = run_off_loop(lambda: apply_retention(self.ctx, dry_run=True), self._show_preview,
                         lambda e: self._notify(error_text(e), "danger"))
        if wait:
            t.join()

    def _show_preview(self, rep) -> None:
        self.retention_preview = rep
        text = retention_summary(rep)
        nothing = retention_is_empty(rep)
        self.retention_pane.object = (f"<div data-testid='retention-preview'>"
                                      f"{badge('warn' if not nothing else 'ok', 'Dry run')} "
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
            self.retention_pane.object = (f"<div data-testid='retention-result'>{badge('ok', 'Done')} "
                                          f"{html.escape(text)}</div>")
            self.refresh(health=False)

        t = run_off_loop(lambda: apply_retention(self.ctx, dry_run=False), done,
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
        from tickdeck.pages.components.service_panel import ServicesPanel

        return pn.Column(
            pn.pane.Markdown("## Admin"), self.message_pane,
            pn.pane.Markdown("### System health"), self.health_pane, self.health_button,
            pn.pane.Markdown("### Services"), ServicesPanel(services=self.services, actor=self.actor or self.user.name),
            pn.pane.Markdown("### Data freshness"),
            pn.pane.Markdown("Each dataset's last stored day against the last completed trading day. "
                             "*Backfill* queues collection of the missing days (backfill priority)."),
            self.backfill_all_button, self.freshness_box,
            pn.pane.Markdown("### Market indicators"),
            pn.pane.Markdown("Builds breadth and derived-metric history from every stored tick day "
                             "(shown on the Market indicators page)."), self.indicators_button,
            pn.pane.Markdown("### Job queue"), self.queue_pane,
            pn.pane.Markdown("#### Running"), self.running_box,
            pn.pane.Markdown("#### Failed"), self.retry_all_button, self.failed_box,
            pn.pane.Markdown("### Retention cleanup"),
            pn.pane.Markdown("Deletes tick and bar days older than the retention policy, prunes validation "
                             "history and dead letters. Preview first; nothing is deleted until you confirm."),
            pn.Row(self.preview_button, self.confirm_button, self.cancel_button), self.retention_pane,
            pn.pane.Markdown("### Audit log"), self.audit_table,
            *self._keys_section(),
            sizing_mode="stretch_width",
        )

    def _keys_section(self) -> list:
        if self.keys is None:
            return []
        from tickdeck.pages.components.api_keys import ApiKeysPanel

        return [pn.pane.Markdown("### API keys"), ApiKeysPanel(keys=self.keys)]


_CHECK_TITLES = {"feed": "Feed (IQFeed)", "arcticdb": "ArcticDB", "sql": "SQL catalog", "redis": "Redis",
                 "disk": "Disk", "memory": "Memory", "cpu": "CPU"}

_ADMIN_CSS = """
.td-hgrid { display:grid; gap:10px; grid-template-columns:repeat(auto-fill, minmax(210px, 1fr)); }
.td-hcard { border:1px solid #d0d7de; border-radius:8px; padding:8px 12px; background:#fff;
            font-family:system-ui, sans-serif; font-size:.9em; }
.td-hcard h4 { margin:0 0 6px 0; } .td-hcard p { margin:6px 0 0 0; }
.td-frow { font-family:system-ui, sans-serif; padding:6px 0; display:flex; gap:10px; align-items:center;
           flex-wrap:wrap; }
.td-ferr { flex-basis:100%; color:#a40e26; font-size:.9em; overflow-wrap:anywhere; }
.td-pre { max-height:240px; overflow:auto; font-size:.8em; background:#f6f8fa; padding:6px; }
"""


def freshness_html(st: DatasetStatus) -> str:
    """One freshness row: symbol, badge, quality, days behind, holes, failing days and the last failure."""
    e = html.escape
    behind = "up to date" if st.days_behind == 0 else (
        f"{st.days_behind} trading day{'s' if st.days_behind != 1 else ''} behind")
    extra = "".join(f" · {text}" for n, text in (
        (st.missing_days, f"{st.missing_days} missing day{'s' if st.missing_days != 1 else ''}"),
        (st.failing_days, f"{st.failing_days} day{'s' if st.failing_days != 1 else ''} failing validation"))
        if n)
    failure = ""
    if st.last_error:
        at = st.last_error_at.astimezone().strftime("%Y-%m-%d %H:%M") if st.last_error_at else ""
        failure = (f"<div class='td-ferr' role='alert'>Job #{st.last_error_job} failed {e(at)}: "
                   f"{e(st.last_error)}</div>")
    return (f"<div class='td-frow' data-symbol='{e(st.symbol)}' data-level='{st.level}' data-state='{st.state}'>"
            f"<b>{e(st.symbol)}</b> {badge_html(st)} "
            f"<span>last day {st.last_day or '—'} · expected {st.expected_day} · {behind}{extra} · "
            f"quality {quality_html(st)}</span>{failure}</div>")


_RAW_BYTES = re.compile(r"\b(\d[\d,]*) bytes\b")


def check_detail(c) -> str:
    """A health check's detail as the page shows it: byte counts in KB/MB/GB, as the monitor shows sizes."""
    return _RAW_BYTES.sub(lambda m: human_bytes(int(m.group(1).replace(",", ""))), c.detail)


def _short(d: dict | None) -> str:
    if not d:
        return ""
    text = ", ".join(f"{k}={v}" for k, v in d.items())
    return text if len(text) < 160 else text[:157] + "…"


def retention_summary(rep: RetentionReport | None) -> str:
    """One line: what a retention report deletes (or would) and the bytes freed."""
    if rep is None:
        return "nothing to report"
    parts = [f"{len(items)} {name}" for name, items in (
        ("tick days", rep.tick_days), ("bar series", rep.bar_series), ("previous versions", rep.previous_versions),
        ("export temporaries", rep.export_temps), ("compacted libraries", rep.compacted)) if items]
    parts += [f"{n:,} {name}" for name, n in (("validation rows", rep.validation_rows),
                                               ("dead letters", rep.dead_letters)) if n]
    if rep.bytes_freed:
        parts.append(f"bytes freed: {human_bytes(rep.bytes_freed)}")
    verb = "would delete" if rep.dry_run else "deleted"
    return f"{verb}: " + ("; ".join(parts) if parts else "nothing")


def retention_is_empty(rep: RetentionReport) -> bool:
    """True when the report deletes nothing."""
    return not (rep.tick_days or rep.bar_series or rep.previous_versions or rep.export_temps or rep.compacted
                or rep.validation_rows or rep.dead_letters or rep.bytes_freed)
