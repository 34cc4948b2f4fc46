"""The page template: Panel's Fast list template with tickdeck's navigation, landmarks and phone layout.

:class:`PageTemplate` renders ``app/templates/page.html`` (it extends Panel's Fast list template):
the sidebar starts collapsed below :data:`NARROW_PX` and then opens over the page, the header
title shortens, the page region is the document's ``main`` landmark and keyboard focus is always
visible. :func:`_add_rules` adds rules inside every component's shadow root (page CSS cannot
reach them): below :data:`NARROW_PX` no component is wider than its container, rows wrap their
children instead of pushing them off screen, and HTML panes scroll their own wide tables;
warning buttons and info alerts get colours with enough contrast.
"""

from __future__ import annotations

from pathlib import Path

from panel.layout import Row
from panel.pane.alert import Alert
from panel.pane.markup import HTMLBasePane
from panel.template import FastListTemplate
from panel.theme import Inherit
from panel.theme.fast import Fast
from panel.viewable import Viewable
from panel.widgets.button import Button

NARROW_PX = 760  # phones and narrow windows (the media queries below and in page.html use the same width)

_NARROW = f"@media (max-width: {NARROW_PX}px)"
EVERY_COMPONENT_CSS = f"{_NARROW} {{ :host {{ max-width: 100%; min-width: 0 !important; }} }}"
ROW_CSS = f"{_NARROW} {{ :host {{ flex-wrap: wrap; }} }}"
HTML_PANE_CSS = (f"{_NARROW} {{ :host {{ overflow-x: auto; }} table {{ max-width: 100%; }} "
                 "th, td { overflow-wrap: anywhere; } }")


# colours with a 4.5:1 contrast: Bootstrap's warning button (white on yellow) and info alert text are below it
BUTTON_CSS = ".bk-btn-warning { background-color: #9a6700; border-color: #9a6700; color: #fff; }"
ALERT_CSS = ":host(.alert-info) { color: #055160 !important; }"
RULES = {Viewable: EVERY_COMPONENT_CSS, Row: ROW_CSS, HTMLBasePane: HTML_PANE_CSS, Button: BUTTON_CSS,
         Alert: ALERT_CSS}


def _add_rules() -> None:
    """Add the narrow-screen and contrast rules to the Fast design's modifiers (once, before any page renders).

    A subclass of the design would be cleaner, but Panel resolves a design's bundled JavaScript by
    its class name (``fast/js/fast_design.js``), so the page keeps the ``Fast`` design itself.
    """
    modifiers = dict(Fast.modifiers)
    for cls, css in RULES.items():
        entry = dict(modifiers.get(cls, {}))
        sheets = list(entry.get("stylesheets", [Inherit]))
        if css not in sheets:
            entry["stylesheets"] = [*sheets, css]
        modifiers[cls] = entry
    Fast.modifiers = modifiers


_add_rules()


class PageTemplate(FastListTemplate):
    """Fast list template rendered from ``app/templates/page.html`` (narrow-screen rules added to Fast)."""

    _template = Path(__file__).parent / "templates" / "page.html"

