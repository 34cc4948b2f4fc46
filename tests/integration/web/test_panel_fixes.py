"""The Panel work-arounds in ``tickdeck.app.panel_fixes`` against the installed Panel's own code."""

from __future__ import annotations

import asyncio

from bokeh.document import Document


def test_patches_queued_while_a_writer_finished_are_still_dispatched():
    from panel.io import document as pdoc

    from tickdeck.app import panel_fixes

    panel_fixes.apply()
    doc = Document()

    async def scenario():
        # A patch was queued while the previous writer was sending, and that writer then cleared
        # the session's flag: the writer scheduled for the new patch finds no flag.
        pdoc._WRITE_MSGS[doc] = {}
        pdoc._WRITE_BLOCK.pop(doc, None)
        await pdoc._dispatch_msgs(doc)
        for _ in range(20):  # the re-dispatch runs as a task on this loop
            if doc not in pdoc._WRITE_MSGS:
                break
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert doc not in pdoc._WRITE_MSGS  # taken by a writer, not left queued
    assert doc not in pdoc._WRITE_BLOCK


def test_apply_is_idempotent():
    from panel.io import document as pdoc

    from tickdeck.app import panel_fixes

    panel_fixes.apply()
    first = pdoc._dispatch_msgs
    panel_fixes.apply()
    assert pdoc._dispatch_msgs is first
