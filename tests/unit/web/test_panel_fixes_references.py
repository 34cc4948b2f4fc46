"""A client patch naming a model the session already has: Bokeh's warning is not printed."""

from __future__ import annotations

import warnings

from bokeh.core.serialization import Deserializer, Serializer
from bokeh.models import Div

from tickdeck.app.panel_fixes import quiet_known_references


def test_a_known_reference_in_a_patch_resolves_to_the_model_without_a_warning():
    div = Div(text="known")
    rep = Serializer().encode(div)  # what a client sends back for a model the server already holds
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_known_references()
        decoded = Deserializer(references=[div]).decode(rep)
        warnings.warn("another warning", UserWarning, stacklevel=1)  # only that one message is silenced
    assert decoded is div
    assert [str(w.message) for w in seen] == ["another warning"]
