"""Validation page: run the four validators on a symbol-day (or range) and explain what they found.

For the chosen day it shows one panel per validator (session, storage, timezone, continuity)
with a PASS/WARN/FAIL badge that carries its meaning in text as well as colour, the issues
(severity, code, the actionable message, where and how many rows), a timeline of the day with
every located issue (gaps, bad prints, …) and any flagged ticks, the quality-score breakdown
and the history of past validation runs. A date range validates every stored day in it and
lists them with their status; pick a day to see its detail.

The work runs on a thread (validating a day reads the whole day) and the result is delivered on
the session's event loop, so the page never freezes. Calls go to :mod:`tickdeck.core.validation` only.
Above the form, the chosen dataset's status (:func:`tickdeck.core.status.dataset_status`) is the same
badge as on the home cards and the admin page; quality is on the one 0–100 scale.
URL: ``./validation?symbol=AAPL&day=2024-07-01`` pre-fills and runs. Without a symbol the form is
pre-filled (not run) with the most recently updated dataset and its latest stored day. When
there is nothing to validate the message says why (:func:`core.quality_report.days_to_validate`):
an unknown symbol, a holiday or weekend (with the holiday's name), or a day not stored.
A PASS with LOW issues reads "PASS with 1 low-severity note", never "no problem found".

Renders in Jupyter: ``ValidationPage(ctx=ctx, symbol="AAPL", day=date(2024, 7, 1))``.
"""

from __future__ import annotations

import datetime as dt
import html
import logging

import pandas as pd
import panel as pn
import param

from tickdeck.core.errors import NotFound, TickdeckError
from tickdeck.core.quality_report import UnknownSymbol, days_to_validate
from tickdeck.core.naming import normalize_ticker
from tickdeck.core.status import dataset_status
from tickdeck.core.validation import flagged_ticks, history, quality_score, validate_day
from tickdeck.core.quality_scale import QUALITY_MAX, format_quality, quality_band
from tickdeck.core.validation.quality import QualityScore
from tickdeck.core.validation.service import HistoryEntry
from tickdeck.pages.components.inputs import DateInput
from tickdeck.pages.components.status import BAND_LEVEL, badge_html, quality_html
from tickdeck.pages.components.ui import STATUS_CSS, badge, empty_state, error_text, run_off_loop

log = logging.getLogger(__name__)

VALIDATORS = ("session", "storage", "timezone", "continuity", "rules")
TITLES = {"session": "Session alignment", "storage": "Storage", "timezone": "Timezone", "continuity": "Continuity",
          "rules": "Ingest rules (flagged ticks)"}
STATUS_BADGE = {"PASS": ("ok", "PASS — no problem found"), "WARN": ("warn", "WARN — worth a look"),
                "FAIL": ("bad", "FAIL — needs fixing")}
SEVERITY_COLOURS = {"CRITICAL": "#82071e", "HIGH": "#cf222e", "MEDIUM": "#bf8700", "LOW": "#57606a"}
MAX_RANGE_DAYS = 31  # a range validates day by day on one thread: a month keeps the wait under a minute
TIMELINE_FLAG_LIMIT = 5_000  # flagged ticks drawn as points; more would only hide the gaps
TIMELINE_EXAMPLES = 5  # example rows per issue drawn as diamonds (they pinpoint wide-range issues)
HISTORY_ROWS = 50  # past runs listed (newest first)

_ISSUE_COLUMNS = ["severity", "code", "message", "where", "rows"]


def status_text(status: str, issues=()) -> tuple[str, str]:
    """(badge kind, text) of a validator's or a day's status; a PASS with (LOW) issues counts them as notes."""
    kind, text = STATUS_BADGE.get(status, ("idle", status))
    n = len(issues)
    if status == "PASS" and n:
        text = f"PASS with {n} low-severity note{'s' if n != 1 else ''}"
    return kind, text


def issue_count_text(issues) -> str:
    """``"no issues"`` | ``"1 issue (LOW)"`` | ``"3 issues (1 HIGH, 2 LOW)"``: how many, by severity."""
    if not issues:
        return "no issues"
    by = {}
    for i in issues:
        by[i.severity] = by.get(i.severity, 0) + 1
    parts = ", ".join(f"{by[s]} {s}" for s in SEVERITY_COLOURS if s in by)
    return f"{len(issues)} issue{'s' if len(issues) != 1 else ''} ({parts})"


def latest_dataset(ctx) -> tuple[str, dt.date | None]:
    """The most recently updated dataset's symbol and its latest stored day (``("", None)``: none)."""
    rows = [d for d in ctx.catalog.datasets() if d.last_day is not None]
    if not rows:
        return "", None
    far = dt.datetime.min.replace(tzinfo=dt.timezone.utc)

    def key(d):
        at = d.last_update or far
        return (at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc), d.last_day, d.symbol)

    best = max(rows, key=key)
    return best.symbol, best.last_day


def _date(v) -> dt.date | None:
    if v in (None, ""):
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


def issues_frame(result) -> pd.DataFrame:
    """A validator's issues as a table: severity, code, message, where (ET) and rows affected."""
    rows = []
    for i in getattr(result, "issues", ()):
        where = ""
        if i.start:
            where = _clock(i.start) + (f" → {_clock(i.end)}" if i.end and i.end != i.start else "")
        rows.append({"severity": i.severity, "code": i.code, "message": i.message, "where": where,
                     "rows": int(i.rows or 0)})
    return pd.DataFrame(rows, columns=_ISSUE_COLUMNS)


_ISSUE_CSS = """
.td-issues { width:100%; border-collapse:collapse; font-family:system-ui, sans-serif; font-size:.9em; }
.td-issues th { text-align:left; color:#57606a; font-weight:600; border-bottom:2px solid #d0d7de; padding:3px 6px; }
.td-issues td { padding:3px 6px; vertical-align:top; }
.td-issues tr.td-msg td { border-bottom:1px solid #eaeef2; padding-bottom:8px; color:#1f2328; }
.td-sev { font-weight:700; }
"""


def issues_html(df: pd.DataFrame) -> str:
    """Issues as an HTML table: severity, code, where, rows; the actionable message on its own line."""
    rows = []
    for r in df.itertuples(index=False):  # a handful of issues per validator, not ticks
        colour = SEVERITY_COLOURS.get(r.severity, "#57606a")
        rows.append(f"<tr class='td-issue' data-code='{html.escape(r.code)}'><td class='td-sev' style='color:{colour}'>"
                    f"{html.escape(r.severity)}</td><td><code>{html.escape(r.code)}</code></td>"
                    f"<td>{html.escape(r.where) or '—'}</td><td style='text-align:right'>{r.rows:,}</td></tr>"
                    f"<tr class='td-msg'><td colspan='4'>{html.escape(r.message)}</td></tr>")
    return ("<table class='td-issues'><thead><tr><th>Severity</th><th>Code</th><th>Where (ET)</th>"
            f"<th style='text-align:right'>Rows</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _clock(iso: str) -> str:
    try:
        return pd.Timestamp(iso).tz_convert("America/New_York").strftime("%H:%M:%S") if pd.Timestamp(iso).tzinfo \
            else pd.Timestamp(iso).strftime("%H:%M:%S")
    except (ValueError, TypeError):
        return str(iso)


QUALITY_COMPONENTS = ("completeness", "accuracy", "timeliness", "consistency")


def quality_rows(q: QualityScore | None) -> list[tuple[str, float]]:
    """(component, value 0–100) rows of a day's quality score."""
    if q is None:
        return []
    return [(k, float(getattr(q, k))) for k in QUALITY_COMPONENTS]


def history_frame(items: list[HistoryEntry] | None) -> pd.DataFrame:
    """Past validation runs (newest first): when, validator, status, issues, data version."""
    rows = [{"when": pd.Timestamp(h.created_at).strftime("%Y-%m-%d %H:%M:%S") if h.created_at else "",
             "validator": h.validator, "status": h.status, "issues": int(h.issues),
             "data version": str(h.data_version)[:24]} for h in items or ()]
    df = pd.DataFrame(rows, columns=["when", "validator", "status", "issues", "data version"])
    return df.sort_values("when", ascending=False).head(HISTORY_ROWS).reset_index(drop=True)


class ValidationPage(pn.viewable.Viewer):
    """Validate a symbol-day and show each validator's verdict, issues, timeline, score and history."""

    ctx = param.Parameter(doc="tickdeck.core.context.Context (store, catalog, calendar)")
    symbol = param.String(default="", doc="ticker to validate")
    day = param.CalendarDate(default=None, allow_None=True, doc="day to validate (first day of a range)")
    end = param.CalendarDate(default=None, allow_None=True, doc="optional last day of a range")
    use_cache = param.Boolean(default=True, doc="reuse stored results until the data changes (or 24 h)")
    selected = param.CalendarDate(default=None, allow_None=True, doc="day whose detail is shown")
    running = param.Boolean(default=False, doc="a validation is in progress")
    message = param.String(default="", doc="last status or error shown to the user")
    autorun = param.Boolean(default=True, doc="validate at once when symbol (and day) come from the URL")

    def __init__(self, **params):
        super().__init__(**params)
        if self.ctx is None:
            raise TickdeckError("ValidationPage needs ctx=Context")
        self.reports: dict[dt.date, object] = {}
        self.quality = None
        self.history = []
        self.flags = None
        args = getattr(pn.state, "session_args", None) or {}
        from_url = url_error = False
        if args.get("symbol") and not self.symbol:
            raw = args["symbol"][0].decode("utf-8", "replace")
            try:
                self.symbol = normalize_ticker(raw)
                from_url = True
            except TickdeckError as e:  # shown (escaped) in the status line; nothing runs
                self.symbol = raw[:64]
                self.message = f"{e}"
                url_error = True
        if args.get("day") and self.day is None:
            raw_day = args["day"][0].decode("utf-8", "replace")
            try:
                self.day = _date(raw_day)
            except ValueError:
                self.message = (f"{self.message}; " if self.message else "") + \
                    f"ignored day {raw_day[:40]!r} in the URL: expected YYYY-MM-DD"
        symbols = sorted(d.symbol for d in self.ctx.catalog.datasets())
        self.symbol_input = pn.widgets.AutocompleteInput.from_param(
            self.param.symbol, label="Symbol", options=symbols, restrict=False, case_sensitive=False,
            min_characters=1, placeholder="e.g. AAPL", width=160)
        self.day_input = DateInput.from_param(self.param.day, label="Day (or first day)", width=160)
        self.end_input = DateInput.from_param(self.param.end, label="Last day (optional)", width=160)
        self.cache_input = pn.widgets.Checkbox.from_param(self.param.use_cache, label="Use cached results")
        self.run_button = pn.widgets.Button(label="Validate", color="primary",
                                            description="run session, storage, timezone and continuity checks")
        self.run_button.on_click(lambda _e: self.run())
        self.status_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.dataset_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.days_table = pn.widgets.Tabulator(pd.DataFrame(columns=["day", "status", "issues"]), show_index=False,
                                               disabled=True, selectable=1, height=200, visible=False,
                                               sizing_mode="stretch_width")
        self.days_table.on_click(self._on_day_click)
        self.validator_cards = {v: pn.Column(sizing_mode="stretch_width") for v in VALIDATORS}
        self.timeline_pane = pn.pane.Bokeh(sizing_mode="stretch_width", height=220)
        self.quality_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.history_table = pn.widgets.Tabulator(history_frame([]), show_index=False, disabled=True,
                                                  pagination="local", page_size=10, sizing_mode="stretch_width")
        self.detail = pn.Column(visible=False, sizing_mode="stretch_width")
        if not self.symbol and not url_error:  # nothing asked: the latest dataset and day, ready to run
            self.symbol, latest = latest_dataset(self.ctx)
            if self.day is None:
                self.day = latest
            if self.symbol and self.day is not None and not self.message:
                self.message = (f"Filled in the latest dataset, {self.symbol}, and its last stored day, {self.day}: "
                                "press Validate or pick another.")
        if self.symbol and self.day is None and not url_error:
            days = self.ctx.catalog.stored_days(self.symbol)
            self.day = days[-1] if days else None
        self._render_status(error=url_error)
        if not url_error:
            self._render_dataset()
        if from_url and self.autorun:  # without a day (unknown symbol) the run says why
            self.run()

    # -- running --------------------------------------------------------------------------
    def _days(self) -> list[dt.date]:
        if not self.symbol.strip():
            raise TickdeckError("enter a symbol to validate, e.g. AAPL")
        sym = normalize_ticker(self.symbol)
        if self.day is None:
            if not self.ctx.catalog.stored_days(sym):
                raise UnknownSymbol(sym, sorted(d.symbol for d in self.ctx.catalog.datasets()))
            raise TickdeckError("pick a day to validate")
        stored = days_to_validate(self.ctx, sym, self.day, self.end or self.day)
        if len(stored) > MAX_RANGE_DAYS:
            raise TickdeckError(f"{len(stored)} stored days in the range; validate at most {MAX_RANGE_DAYS} at a time")
        return stored

    def run(self, *, wait: bool = False) -> None:
        """Validate the chosen day(s) off the event loop; ``wait=True`` blocks (tests, notebooks)."""
        try:
            days = self._days()
        except TickdeckError as e:
            self._show_error(e)
            return
        sym = normalize_ticker(self.symbol)
        self.running = True
        self.run_button.disabled = True
        self.message = f"Validating {sym} on {len(days)} day{'s' if len(days) != 1 else ''}…"
        self._render_status()
        t = run_off_loop(lambda: self._work(sym, days, self.use_cache), self._on_result, self._show_error)
        if wait:
            t.join()

    def _work(self, sym: str, days: list[dt.date], use_cache: bool):
        reports = {d: validate_day(self.ctx, sym, d, use_cache=use_cache) for d in days}
        detail = self._detail_data(sym, days[-1] if len(days) > 1 else days[0], reports)
        return sym, reports, detail, dataset_status(self.ctx, sym)  # after the day's score was stored

    def _detail_data(self, sym: str, day: dt.date, reports: dict):
        """The day's quality score (scored and stored now), validation history and flagged ticks.

        A tickdeck error in one of them (the day deleted meanwhile) is logged and leaves that
        part empty: the validators' report is still shown.
        """
        quality = hist = flags = None
        try:
            quality = quality_score(self.ctx, sym, day, report=reports.get(day))
        except TickdeckError as e:
            log.warning("quality score of %s %s unavailable: %s", sym, day, e)
        try:
            hist = history(self.ctx, sym, day)
        except TickdeckError as e:
            log.warning("validation history of %s %s unavailable: %s", sym, day, e)
        try:
            flags = flagged_ticks(self.ctx, sym, day)
        except TickdeckError as e:
            log.warning("flagged ticks of %s %s unavailable: %s", sym, day, e)
        return day, quality, hist, flags

    def _on_result(self, out) -> None:
        sym, reports, (day, quality, history, flags), status = out
        self._render_dataset(status)
        self.reports = reports
        self.running = False
        self.run_button.disabled = False
        bad = sum(1 for r in reports.values() if r.status == "FAIL")
        self.message = (f"Validated {sym}: {len(reports)} day{'s' if len(reports) != 1 else ''}, "
                        f"{bad} failing")
        self._show_day(day, quality, history, flags)

    def _show_error(self, e: Exception) -> None:
        self.running = False
        self.run_button.disabled = False
        self.message = error_text(e)
        self._error_shown = True
        self._render_status(error=True)

    @param.depends("symbol", "day", "end", watch=True)
    def _clear_stale_error(self) -> None:
        """An error about the form goes once the user changes what it was about (it no longer applies)."""
        if getattr(self, "_error_shown", False) and hasattr(self, "status_pane"):
            self._error_shown = False
            self.message = ""
            self._render_status()

    def _on_day_click(self, event) -> None:
        day = _date(self.days_table.value.iloc[event.row]["day"])
        if day in self.reports and day != self.selected:
            self.select_day(day)

    def select_day(self, day: dt.date, *, wait: bool = False) -> None:
        """Show the detail of one already-validated day (loads its score and history off-loop)."""
        sym = normalize_ticker(self.symbol)
        t = run_off_loop(lambda: self._detail_data(sym, day, self.reports),
                         lambda d: self._show_day(*d), self._show_error)
        if wait:
            t.join()

    # -- rendering ------------------------------------------------------------------------
    def _render_status(self, error: bool = False) -> None:
        if error:
            self.status_pane.object = f"<div role='alert' data-testid='validation-message'>{badge('bad', 'Error')} " \
                                      f"{html.escape(self.message)}</div>"
        elif self.running:
            self.status_pane.object = f"<div data-testid='validation-message'>{badge('idle', 'Running')} " \
                                      f"{html.escape(self.message)}</div>"
        elif self.message:
            self.status_pane.object = (f"<p class='td-muted' data-testid='validation-message'>"
                                       f"{html.escape(self.message)}</p>")
        else:
            self.status_pane.object = ("<p class='td-muted' data-testid='validation-message'>Pick a symbol and a day "
                                       "(or a range) and press Validate.</p>")

    def _show_day(self, day: dt.date, quality, history, flags) -> None:
        self.selected = day
        self.quality, self.history, self.flags = quality, history or [], flags
        report = self.reports[day]
        self._render_status()
        if len(self.reports) > 1:
            self.days_table.value = pd.DataFrame(
                [{"day": d.isoformat(), "status": r.status, "issues": len(r.issues)}
                 for d, r in sorted(self.reports.items())],
                columns=["day", "status", "issues"])
            self.days_table.visible = True
        else:
            self.days_table.visible = False
        kind, text = status_text(report.status, report.issues)
        cached = " (cached result)" if getattr(report, "cached", False) else ""
        count = issue_count_text(report.issues)
        header = pn.pane.HTML(
            f"<h3 style='margin:4px 0'>{html.escape(report.symbol)} · {day.isoformat()} "
            f"{badge(kind, 'Overall ' + text, testid='overall-status')}</h3>"
            f"<p class='td-muted' data-testid='issue-count'>{count[:1].upper()}{count[1:]}{cached}. "
            "Severity: CRITICAL/HIGH fail the day, "
            f"MEDIUM warns, LOW is informational.</p>", stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        for v in VALIDATORS:
            self.validator_cards[v].objects = self._validator_panel(v, report.result(v))
        order = sorted(VALIDATORS, key=lambda v: -_STATUS_ORDER.get(getattr(report.result(v), "status", ""), -1))
        strip = " ".join(
            f"<span style='margin-right:12px'>{html.escape(TITLES[v])} "
            f"{badge(*STATUS_BADGE.get(r.status, ('idle', r.status))[:1], r.status)}</span>"
            for v in order if (r := report.result(v)) is not None)
        overview = pn.pane.HTML(f"<div data-testid='validator-overview' class='td-muted'>{strip}</div>",
                                stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.timeline_pane.object = self._timeline(report, flags)
        self.quality_pane.object = self._quality_html(quality)
        self.history_table.value = history_frame(self.history)
        self.detail.objects = [
            header, overview,
            pn.GridBox(*[self.validator_cards[v] for v in order], ncols=2, sizing_mode="stretch_width"),
            pn.pane.Markdown("### Timeline of located issues (ET)"), self.timeline_pane,
            pn.Row(pn.Column(pn.pane.Markdown("### Quality score"), self.quality_pane, width=420),
                   pn.Column(pn.pane.Markdown("### History of past runs"), self.history_table,
                             sizing_mode="stretch_width"), sizing_mode="stretch_width"),
        ]
        self.detail.visible = True

    def _validator_panel(self, name: str, result) -> list:
        title = TITLES[name]
        if result is None:
            return [pn.pane.HTML(f"<h4>{title}</h4>{badge('idle', 'not run')}", stylesheets=[STATUS_CSS])]
        kind, text = status_text(result.status, result.issues)
        checks = ", ".join(c.replace("_", " ") for c in result.checks)
        head = pn.pane.HTML(
            f"<section aria-label='{title} validator' data-validator='{name}' data-status='{result.status}'>"
            f"<h4 style='margin:6px 0'>{title} {badge(kind, text, testid='status-' + name)}</h4>"
            f"<p class='td-muted'>Checks: {html.escape(checks) or '—'}</p></section>",
            stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        df = issues_frame(result)
        if df.empty:
            body = pn.pane.HTML("<p class='td-muted'>No issues.</p>", stylesheets=[STATUS_CSS])
        else:
            body = pn.pane.HTML(issues_html(df), stylesheets=[STATUS_CSS, _ISSUE_CSS], sizing_mode="stretch_width")
        return [pn.Column(head, body, sizing_mode="stretch_width", margin=(6, 8),
                          styles={"border": "1px solid #d0d7de",
                                  "border-left": f"6px solid {_status_colour(result.status)}",
                                  "border-radius": "6px", "padding": "4px 10px", "background": "#fff"})]

    def _timeline(self, report, flags):
        from bokeh.models import BoxAnnotation, ColumnDataSource, HoverTool
        from bokeh.plotting import figure

        cal = self.ctx.calendar_for(report.symbol)
        try:
            b = cal.bounds(report.day)
            x0, x1 = b.pre_open.tz_localize(None), b.after_close.tz_localize(None)
            reg = (b.open.tz_localize(None), b.close.tz_localize(None))
        except NotFound:
            x0 = pd.Timestamp(report.day)
            x1, reg = x0 + pd.Timedelta(days=1), None
        lanes = [TITLES[v] for v in VALIDATORS] + ["flagged ticks"]
        fig = figure(x_axis_type="datetime", y_range=lanes[::-1], height=220, sizing_mode="stretch_width",
                     x_range=(x0, x1), toolbar_location="right", tools="xpan,xwheel_zoom,reset",
                     title="Located issues over the day (hover for details); shaded = regular session")
        if reg:
            fig.add_layout(BoxAnnotation(left=reg[0], right=reg[1], fill_color="#2563eb", fill_alpha=0.06))
        rows, examples = [], []
        for r in report.results:
            for i in r.issues:
                for ex in i.examples[:TIMELINE_EXAMPLES]:
                    if isinstance(ex, dict) and ex.get("time"):
                        examples.append({"time": _naive_et(ex["time"]), "lane": TITLES.get(r.validator, r.validator),
                                         "code": i.code,
                                         "row": ", ".join(f"{k}={v}" for k, v in ex.items() if k != "time")})
                if not i.start:
                    continue
                s = _naive_et(i.start)
                e = _naive_et(i.end) if i.end else s
                if e - s < pd.Timedelta(seconds=30):  # keep instant issues visible at full-day zoom
                    e = s + pd.Timedelta(seconds=30)
                rows.append({"lane": TITLES.get(r.validator, r.validator), "start": s, "end": e,
                             "severity": i.severity, "code": i.code, "message": i.message[:160],
                             "colour": SEVERITY_COLOURS.get(i.severity, "#57606a")})
        if rows:
            src = ColumnDataSource(pd.DataFrame(rows))
            bars = fig.hbar(y="lane", left="start", right="end", height=0.6, color="colour", source=src)
            fig.add_tools(HoverTool(renderers=[bars], tooltips=[("severity", "@severity"), ("code", "@code"),
                                                               ("message", "@message")]))
        if examples:
            esrc = ColumnDataSource(pd.DataFrame(examples))
            ex = fig.scatter(x="time", y="lane", source=esrc, size=9, marker="diamond", color="#1f2937")
            fig.add_tools(HoverTool(renderers=[ex], tooltips=[("example", "@code"), ("time", "@time{%H:%M:%S}"),
                                                             ("row", "@row")], formatters={"@time": "datetime"}))
        fl = _flag_points(flags)
        if fl is not None and len(fl):
            fsrc = ColumnDataSource(fl)
            pts = fig.scatter(x="time", y="lane", source=fsrc, size=7, marker="x", color="#cf222e")
            fig.add_tools(HoverTool(renderers=[pts], tooltips=[("time", "@time{%H:%M:%S}"), ("flags", "@flags")],
                                    formatters={"@time": "datetime"}))
        fig.yaxis.major_label_text_font_size = "11pt"
        return fig

    def _quality_html(self, q: QualityScore | None) -> str:
        if q is None:
            return "<p class='td-muted' data-testid='quality'>No quality score for this day yet.</p>"
        band = quality_band(q.score)
        rows = "".join(
            f"<dt>{html.escape(k)}</dt><dd><meter min='0' max='{QUALITY_MAX:g}' value='{v:.3f}' "
            f"aria-label='{html.escape(k)}'></meter> {v:.1f}</dd>" for k, v in quality_rows(q))
        return (f"<div data-testid='quality' data-band='{band}'>"
                f"{badge(BAND_LEVEL[band], f'Quality {format_quality(q.score)} / {QUALITY_MAX:g} ({band})')}"
                f"<dl class='td-kv'>{rows}</dl></div>")

    def _render_dataset(self, status=None) -> None:
        """The chosen dataset's status line (the same badge as on the home cards and the admin page)."""
        if status is None:
            try:
                sym = normalize_ticker(self.symbol) if self.symbol.strip() else ""
            except TickdeckError:
                sym = ""
            status = dataset_status(self.ctx, sym) if sym and self.ctx.catalog.dataset(sym) is not None else None
        if status is None:
            self.dataset_pane.object = ""
            return
        e = html.escape
        failure = f" · last collection failed: {e(status.last_error)}" if status.last_error else ""
        self.dataset_pane.object = (
            f"<p class='td-muted' data-testid='dataset-status' data-symbol='{e(status.symbol)}' "
            f"data-level='{status.level}'><b>{e(status.symbol)}</b> {badge_html(status)} "
            f"quality {quality_html(status)} · last day {status.last_day or '—'}{failure}</p>")

    @param.depends("symbol", watch=True)
    def _on_symbol(self) -> None:
        if hasattr(self, "dataset_pane"):
            self._render_dataset()

    def __panel__(self):
        controls = pn.Row(self.symbol_input, self.day_input, self.end_input,
                          pn.Column(pn.Spacer(height=18), self.cache_input),
                          pn.Column(pn.Spacer(height=14), self.run_button))
        empty = [] if self.ctx.catalog.datasets() else [empty_state(
            "Nothing to validate yet", "Validation checks stored tick days. Add data one of these ways, then "
            "pick a symbol and a day here:")]
        return pn.Column(pn.pane.Markdown("## Validation"), *empty, self.dataset_pane, controls, self.status_pane,
                         self.days_table, self.detail,
                         sizing_mode="stretch_width")


_STATUS_ORDER = {"FAIL": 2, "WARN": 1, "PASS": 0}


def _naive_et(iso) -> pd.Timestamp:
    t = pd.Timestamp(iso)
    return t.tz_convert("America/New_York").tz_localize(None) if t.tzinfo else t


def _status_colour(status: str) -> str:
    return {"PASS": "#4ac26b", "WARN": "#d4a72c", "FAIL": "#cf222e"}.get(status, "#afb8c1")


def _flag_points(flags) -> pd.DataFrame | None:
    """Flagged ticks as (time naive ET, lane, flags text) points, capped for drawing."""
    if flags is None:
        return None
    df = flags if isinstance(flags, pd.DataFrame) else pd.DataFrame(flags)
    if df.empty:
        return None
    if "time" not in df.columns:
        if isinstance(df.index, pd.DatetimeIndex):
            df = df.reset_index(names="time")
        elif "timestamp" in df.columns:
            df = df.rename(columns={"timestamp": "time"})
        else:
            return None
    t = pd.to_datetime(df["time"])
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert("America/New_York").dt.tz_localize(None)
    col = "names" if "names" in df.columns else "flags" if "flags" in df.columns else None
    text = df[col].astype(str) if col else pd.Series(["flagged"] * len(df))
    points = pd.DataFrame({"time": t.to_numpy(), "lane": "flagged ticks", "flags": text.to_numpy()})
    return points.head(TIMELINE_FLAG_LIMIT)
