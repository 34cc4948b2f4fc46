"""Small UI helpers shared by the pages: status pills, sizes, countdowns, background actions.

* :func:`badge` — a coloured pill whose text carries the meaning (colour is never the only
  signal); kinds ``ok`` / ``warn`` / ``bad`` / ``idle`` styled by :data:`STATUS_CSS`.
* :func:`human_bytes`, :func:`countdown` — numbers as people read them.
* :func:`run_off_loop` — run slow work on a thread and deliver the result on the session's
  event loop (or directly outside a server session: Jupyter, tests).
* :func:`error_text` — the one line a user sees for an exception (see
  :mod:`pages.components.actions`).
* :func:`empty_state` — what a page shows when the store has nothing for it yet: a title, why,
  and the next steps (commands to run, buttons where the page has them).
"""

from __future__ import annotations

import html
import logging
import threading
from functools import partial
from typing import Callable

import panel as pn

from tickdeck.core.errors import TickdeckError

log = logging.getLogger(__name__)

STATUS_CSS = """
.td-badge { display:inline-block; padding:2px 10px; border-radius:12px; font-weight:600;
            font-family: system-ui, sans-serif; font-size:.95em; border:1px solid transparent; }
.td-ok { background:#dafbe1; color:#116329; border-color:#4ac26b; }
.td-warn { background:#fff8c5; color:#7d4e00; border-color:#d4a72c; }
.td-bad { background:#ffebe9; color:#a40e26; border-color:#ff8182; }
.td-idle { background:#eaeef2; color:#424a53; border-color:#afb8c1; }
.td-kv { display:grid; grid-template-columns:auto 1fr; gap:2px 14px; font-family:system-ui,sans-serif;
         font-size:.92em; margin:6px 0; }
.td-kv dt { color:#57606a; } .td-kv dd { margin:0; font-variant-numeric:tabular-nums; }
.td-muted { color:#57606a; font-family:system-ui,sans-serif; font-size:.9em; }
.td-active-row { display:flex; align-items:center; gap:16px; margin:4px 0; font-family:system-ui,sans-serif; }
.td-active-label { width:340px; }
.td-active-row progress { width:240px; height:14px; -webkit-appearance:none; appearance:none; border:0;
                          background:#e5e7eb; border-radius:4px; }
.td-active-row progress::-webkit-progress-bar { background:#e5e7eb; border-radius:4px; }
.td-active-row progress::-webkit-progress-value { background:#2563eb; border-radius:4px; }
.td-active-row progress::-moz-progress-bar { background:#2563eb; border-radius:4px; }
.td-active-row progress.td-finished::-webkit-progress-value { background:#1a7f37; }
.td-active-row progress.td-finished::-moz-progress-bar { background:#1a7f37; }
"""

KIND_SYMBOL = {"ok": "●", "warn": "▲", "bad": "✖", "idle": "○"}


def badge(kind: str, text: str, *, testid: str = "") -> str:
    """Coloured status pill whose text carries the meaning (colour is never the only signal)."""
    tid = f' data-testid="{html.escape(testid)}"' if testid else ""
    return (f'<span class="td-badge td-{kind}" role="status"{tid}>'
            f'<span aria-hidden="true">{KIND_SYMBOL.get(kind, "")}</span> {html.escape(text)}</span>')


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def countdown(seconds: float) -> str:
    """``3 h 05 min 12 s`` (days when far away)."""
    s = max(0, int(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d} d {h} h {m:02d} min"
    if h:
        return f"{h} h {m:02d} min {s:02d} s"
    return f"{m} min {s:02d} s"


def run_off_loop(work: Callable[[], object], on_done: Callable[[object], None],
                 on_error: Callable[[Exception], None]) -> threading.Thread:
    """Run ``work`` on a thread; deliver its result (or error) on the session's event loop.

    Outside a server session (Jupyter, tests) the callbacks run on the worker thread.
    """
    from panel.io.state import set_curdoc

    doc = pn.state.curdoc

    def deliver(cb):
        if doc is not None and doc.session_context is not None:
            def on_loop():
                with set_curdoc(doc):
                    cb()
            doc.add_next_tick_callback(on_loop)
        else:
            cb()

    def target():
        try:
            result = work()
        except Exception as e:  # noqa: BLE001 - reported to the page
            if not isinstance(e, TickdeckError):
                log.exception("background action failed")
            deliver(partial(on_error, e))
            return
        deliver(partial(on_done, result))

    t = threading.Thread(target=target, daemon=True, name="tickdeck-page-action")
    t.start()
    return t


def error_text(e: BaseException) -> str:
    """Readable message: tickdeck errors as they are, anything else as ``internal error, id …``."""
    from tickdeck.pages.components.actions import report

    return report(e)


EMPTY_CSS = """
.td-empty-state { border:1px dashed #afb8c1; border-radius:8px; padding:18px 22px; margin:8px 0; background:#f6f8fa;
            font-family:system-ui,sans-serif; color:#24292f; max-width:760px; }
.td-empty-state h3 { margin:0 0 6px 0; font-size:1.15em; }
.td-empty-state p { margin:4px 0 10px 0; color:#424a53; }
.td-empty-state ol { margin:0; padding-left:1.3em; } .td-empty-state li { margin:4px 0; }
.td-empty-state code { background:#eaeef2; padding:1px 6px; border-radius:4px; font-size:.92em;
                       overflow-wrap:anywhere; }
"""

EMPTY_STEPS = (  # the ways data gets into the store, as a researcher would run them
    ("Generate synthetic days to try the app", "tickdeck generate AAPL MSFT --start 2024-07-01 --end 2024-07-03"),
    ("Import files you already have (CSV, Parquet, DBN, Nautilus)", "tickdeck import FILE --symbol AAPL"),
    ("Collect history from IQFeed (or the bundled emulator)",
     "tickdeck collect AAPL --start 2024-07-01 --end 2024-07-03"),
)


def empty_state_html(title: str, why: str, steps=EMPTY_STEPS, *, testid: str = "empty-state") -> str:
    """The empty-state card as HTML: ``title``, one line ``why``, then ``(what, command)`` steps."""
    items = "".join(
        f"<li>{html.escape(what)}: <code>{html.escape(cmd)}</code></li>" if cmd else f"<li>{html.escape(what)}</li>"
        for what, cmd in steps)
    return (f"<style>{EMPTY_CSS}</style>"  # inline: the card renders the same inside any page's pane
            f'<div class="td-empty-state" role="note" data-testid="{html.escape(testid)}">'
            f"<h3>{html.escape(title)}</h3><p>{html.escape(why)}</p>"
            f"{'<ol>' + items + '</ol>' if items else ''}</div>")


def empty_state(title: str, why: str, steps=EMPTY_STEPS, *, buttons=(), testid: str = "empty-state") -> pn.Column:
    """What a page shows when the store has nothing for it yet (never a traceback or a bare table).

    ``steps`` are ``(what, command)`` pairs (command may be empty); ``buttons`` are widgets the page
    already has for the same action (for an admin: start a collection, build indicators).
    """
    card = pn.pane.HTML(empty_state_html(title, why, steps, testid=testid), sizing_mode="stretch_width")
    return pn.Column(card, *([pn.Row(*buttons)] if buttons else []), sizing_mode="stretch_width")


def quiet_periodic(callback: Callable[[], None], period_ms: int):
    """A periodic callback of the current session that does not mark the session busy.

    ``pn.state.add_periodic_callback`` counts every run as "busy", so a page refreshing once a
    second keeps the header's busy spinner turning although nothing loads. This one runs in the
    background sense of Panel's ``PeriodicCallback`` (no busy event) and is registered with the
    session like ``add_periodic_callback``'s, so it stops when the session is destroyed.
    """
    from panel.io.callbacks import PeriodicCallback

    cb = PeriodicCallback(callback=callback, period=period_ms, background=True)
    cb.start()
    doc = pn.state.curdoc
    if doc is not None:
        pn.state._periodic.setdefault(doc, []).append(cb)  # stopped with the session (Panel 1.9 internals)
    return cb


class SessionRefresh:
    """Mixin of a component that refreshes itself while shown in a server session: :meth:`start_updates`
    runs ``self.refresh`` every ``self.refresh_ms`` (:func:`quiet_periodic`) until :meth:`stop_updates` or
    the session ends. The component sets ``_callback = None`` in ``__init__``."""

    refresh_ms: int = 1_000
    _callback = None

    def start_updates(self) -> None:
        if self._callback is None and pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            self._callback = quiet_periodic(self.refresh, self.refresh_ms)
            pn.state.on_session_destroyed(lambda _c: self.stop_updates())

    def stop_updates(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
