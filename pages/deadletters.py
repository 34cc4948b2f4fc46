"""Dead letters: the lines a collector or importer could not use — browse, inspect, fix and replay.

The browser form of ``tickdeck deadletters``: filter by source, symbol, reason (the field the
parser refused: ``last``, ``ts``, ``last_sz``…) and status; pick a row (click it, or type its id)
to see its raw text and reason; edit the line, *Check* it (a dry parse, nothing stored) and
*Save & replay* it — :func:`core.deadletters.fix_and_replay`, the same ``--fix`` and ``--replay``
the CLI runs: the corrected tick is merged into its stored day, the row is marked ``replayed``
(or ``failed`` with the parser's reason, keeping the new text), and the action is audited.

The route needs the admin role; the page checks it again before writing (``user`` is injected).
"""

from __future__ import annotations

import html

import pandas as pd
import panel as pn
import param

from tickdeck.core import deadletters as dl
from tickdeck.core.errors import TickdeckError
from tickdeck.core.users import User
from tickdeck.pages.components.actions import ui_action
from tickdeck.pages.components.safe import describe_invalid, sync_url
from tickdeck.pages.components.services import LOCAL_ADMIN, require
from tickdeck.pages.components.ui import STATUS_CSS, badge, empty_state

ALL = "(all)"
RAW_SHOWN_CHARS = 120  # raw text shown per table row; the inspector shows all of it
PAGE_ROWS = 20  # table rows per page
STATUS_KIND = {"new": "warn", "failed": "bad", "replayed": "ok"}

DL_CSS = """
.td-dl-inspect { font-family: system-ui, sans-serif; font-size: .92em; }
.td-dl-inspect pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f8fa; border: 1px solid #d0d7de;
                     border-radius: 6px; padding: 8px; margin: 4px 0; font-size: .9em; }
.td-dl-result { font-family: system-ui, sans-serif; margin: 6px 0; overflow-wrap: anywhere; }
.td-dl-result.td-fail { color: #a40e26; } .td-dl-result.td-done { color: #116329; }
"""


class DeadLettersPage(pn.viewable.Viewer):
    """Browse and repair dead letters. ``DeadLettersPage(ctx=ctx)`` in Jupyter (local admin)."""

    ctx = param.Parameter(doc="tickdeck.core.context.Context — injected service")
    user = param.ClassSelector(class_=User, default=LOCAL_ADMIN, doc="the viewing user (replay needs admin)")
    source = param.Selector(default=ALL, objects=[ALL], doc="only dead letters from this source")
    symbol = param.Selector(default=ALL, objects=[ALL], doc="only dead letters of this symbol")
    reason = param.Selector(default=ALL, objects=[ALL], doc="only dead letters with this reason kind")
    status = param.Selector(default=ALL, objects=[ALL, "new", "failed", "replayed"], doc="only this status")
    selected = param.Integer(default=0, bounds=(0, None), doc="id of the dead letter inspected (0: none)")
    line = param.String(default="", doc="the edited raw text of the selected dead letter")
    result = param.String(default="", doc="what the last check or replay said (read-only)")
    ok = param.Boolean(default=True, doc="whether the last check or replay succeeded (read-only)")
    last_error = param.String(default="", doc="last action error (read-only)")
    revision = param.Integer(default=0, doc="bumped after a replay so the table re-reads (read-only)")

    def __init__(self, **params):
        super().__init__(**params)
        self._rows: list = []
        self._update_choices()
        self._table = pn.widgets.Tabulator(pd.DataFrame(columns=["id", "status", "source", "symbol", "reason", "raw"]),
                                           show_index=False, disabled=True, selectable=1, pagination="local",
                                           page_size=PAGE_ROWS, sizing_mode="stretch_width", layout="fit_data_stretch",
                                           css_classes=["td-dl-table"])
        self._table.param.watch(self._on_select, "selection")
        self._editor = pn.widgets.TextAreaInput.from_param(self.param.line, label="Line (edit, then check or replay)",
                                                           height=90, sizing_mode="stretch_width",
                                                           css_classes=["td-dl-line"])
        self._check = pn.widgets.Button(label="Check line", color="default", css_classes=["td-dl-check"])
        self._replay = pn.widgets.Button(label="Save & replay", color="primary", css_classes=["td-dl-replay"])
        self._check.on_click(lambda _e: self.check())
        self._replay.on_click(lambda _e: self.save_and_replay())
        self._id = pn.widgets.IntInput.from_param(self.param.selected, label="Dead letter id", width=140)
        self._refresh_table()

    # -- data ------------------------------------------------------------------------------
    def query(self) -> dl.DeadLetterQuery:
        pick = {k: ("" if getattr(self, k) == ALL else getattr(self, k)) for k in ("source", "symbol", "reason",
                                                                                   "status")}
        return dl.DeadLetterQuery(**pick)

    def _update_choices(self) -> None:
        _, facets = dl.browse(self.ctx, limit=0)
        for name, values in (("source", facets.sources), ("symbol", facets.symbols), ("reason", facets.reasons)):
            objs = [ALL, *values]
            if getattr(self, name) not in objs:
                objs.append(getattr(self, name))  # a value from the link stays selectable (it matches nothing)
            self.param[name].objects = objs
        self._facets = facets

    def rows(self) -> list:
        """The dead letters passing the filters (newest first)."""
        rows, _ = dl.browse(self.ctx, self.query())
        return rows

    @param.depends("source", "symbol", "reason", "status", "revision", watch=True)
    def _refresh_table(self) -> None:
        self._rows = self.rows()
        frame = pd.DataFrame({
            "id": [r.id for r in self._rows], "status": [r.status for r in self._rows],
            "source": [r.source for r in self._rows], "symbol": [r.symbol for r in self._rows],
            "reason": [r.reason for r in self._rows],
            "raw": [r.raw if len(r.raw) <= RAW_SHOWN_CHARS else r.raw[:RAW_SHOWN_CHARS - 1] + "…" for r in self._rows]})
        self._table.value = frame
        self._table.selection = []

    def _row(self, id_: int):
        """The dead letter ``id_``: from the rows shown when it is one of them, else from the catalog."""
        for r in self._rows:
            if r.id == id_:
                return r
        return dl.get(self.ctx, id_)

    def _on_select(self, event) -> None:
        if event.new:
            i = event.new[0]
            if 0 <= i < len(self._rows):
                self.selected = self._rows[i].id

    @param.depends("selected", watch=True)
    def _load_selected(self) -> None:
        self.result, self.ok = "", True
        if not self.selected:
            self.line = ""
            return
        try:
            self.line = self._row(self.selected).raw
        except TickdeckError as e:
            self.line = ""
            self.result, self.ok = str(e), False

    # -- actions ---------------------------------------------------------------------------
    @ui_action
    def check(self) -> dl.LineCheck | None:
        """Parse the edited line as a replay would (nothing stored); the result is shown on the page."""
        row = self._row(self.selected)
        try:
            c = dl.check_line(row.symbol, self.line)
        except TickdeckError as e:
            self.result, self.ok = f"Still refused: {e}", False
            return None
        price = c.first.get("last")
        self.result = (f"Parses: {c.ticks} tick(s) of {c.symbol} on {', '.join(c.days)}"
                       + (f", price {price:g}" if isinstance(price, (int, float)) else "")
                       + ". Save & replay merges it into the stored day.")
        self.ok = True
        return c

    @ui_action
    def save_and_replay(self) -> dl.ReplayResult:
        """``--fix`` + ``--replay`` of the selected dead letter (admin only), then re-read the table."""
        require(self.user, "admin", "replaying a dead letter")
        if not self.selected:
            raise TickdeckError("pick a dead letter first (click a row or type its id)")
        res = dl.fix_and_replay(self.ctx, self.selected, self.line, actor=self.user.name)
        if res.failed:
            self.result, self.ok = f"Not replayed: {res.failed[0][1]} (kept as failed with the new text)", False
        else:
            days = ", ".join(f"{s} {d}" for s, d in res.days)
            self.result, self.ok = f"Replayed dead letter {self.selected} into {days}.", True
        self._update_choices()
        self.revision += 1
        return res

    # -- view ------------------------------------------------------------------------------
    @param.depends("selected", "revision")
    def _inspector(self):
        if not self.selected:
            return pn.pane.HTML("<p class='td-muted'>Click a row (or type its id) to inspect and fix it.</p>",
                                stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        try:
            r = self._row(self.selected)
        except TickdeckError as e:
            return pn.pane.HTML(f"<p role='alert' class='td-dl-result td-fail'>⚠ {html.escape(str(e))}</p>",
                                stylesheets=[DL_CSS], sizing_mode="stretch_width")
        e = html.escape
        where = f" · line {r.line}" if r.line else ""
        body = (f'<div class="td-dl-inspect" data-testid="dl-inspect" data-id="{r.id}">'
                f"<p>{badge(STATUS_KIND.get(r.status, 'idle'), r.status)} <b>#{r.id}</b> · {e(r.source)} · "
                f"{e(r.symbol or '—')}{where} · {e(r.created_at.strftime('%Y-%m-%d %H:%M:%S UTC'))}</p>"
                f"<p><b>Reason:</b> {e(r.reason)}</p><p><b>Stored text:</b></p><pre>{e(r.raw)}</pre></div>")
        return pn.pane.HTML(body, stylesheets=[DL_CSS, STATUS_CSS], sizing_mode="stretch_width")

    @param.depends("result", "ok")
    def _result(self):
        if not self.result:
            return pn.pane.HTML("", sizing_mode="stretch_width")
        cls = "td-done" if self.ok else "td-fail"
        icon = "✓" if self.ok else "✕"
        return pn.pane.HTML(f'<p class="td-dl-result {cls}" role="status" data-testid="dl-result" '
                            f'data-ok="{str(self.ok).lower()}">{icon} {html.escape(self.result)}</p>',
                            stylesheets=[DL_CSS], sizing_mode="stretch_width")

    @param.depends("source", "symbol", "reason", "status", "revision")
    def _count(self):
        n = len(self._rows)
        total = sum(self._facets.statuses.values())
        waiting = self._facets.statuses.get("new", 0) + self._facets.statuses.get("failed", 0)
        return pn.pane.HTML(f'<p class="td-muted" id="td-dl-count" aria-live="polite">{n:,} shown of {total:,} '
                            f"dead letter(s); {waiting:,} waiting for a fix (new or failed)</p>",
                            stylesheets=[STATUS_CSS], sizing_mode="stretch_width")

    def __panel__(self):
        if not self._facets.statuses:
            return pn.Column(pn.pane.Markdown("## Dead letters"), empty_state(
                "No dead letters", "Lines a collection or import could not use are kept here with their reason, "
                "to fix and replay. None so far.", steps=(
                    ("Collect history (bad lines from the feed land here)",
                     "tickdeck collect AAPL --start 2024-07-01 --end 2024-07-03"),
                    ("List them from the command line", "tickdeck deadletters"))), sizing_mode="stretch_width")
        filters = pn.FlexBox(
            pn.widgets.Select.from_param(self.param.source, label="Source", width=150),
            pn.widgets.Select.from_param(self.param.symbol, label="Symbol", width=130),
            pn.widgets.Select.from_param(self.param.reason, label="Reason", width=200),
            pn.widgets.Select.from_param(self.param.status, label="Status", width=130), align_items="end")
        inspect = pn.Column(pn.pane.Markdown("### Inspect and fix"), self._id, self._inspector, self._editor,
                            pn.Row(self._check, self._replay), self._result, sizing_mode="stretch_width")
        return pn.Column(pn.pane.Markdown("## Dead letters"), filters, self._count, self._table, inspect,
                         sizing_mode="stretch_width")

    def sync_location(self) -> None:
        sync_url(self, {"source": "source", "symbol": "symbol", "reason": "reason", "status": "status",
                        "selected": "id"}, self._invalid_link)

    def _invalid_link(self, bad: dict) -> None:
        from tickdeck.pages.components.actions import notify

        notify(describe_invalid(bad), "warning")
