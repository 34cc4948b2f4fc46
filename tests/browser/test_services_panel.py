"""The Services panel in Chromium against a real ``tickdeck serve`` and the IQFeed emulator: the
monitor starts live collection as a service (the server's supervisor runs it), its state and
detail show on the monitor and the admin page, and the admin page stops it."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser]


def test_monitor_starts_the_live_service_and_admin_stops_it(app_server, page, shot):
    """Issue 12: a service's status is visible on the monitor and admin pages, which start and
    stop it through the injected services facade."""
    from tickdeck.core.catalog import Catalog
    from tickdeck.core.services import ServiceControl
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    with EmulatorThread(IQFeedEmulator(symbols=("AAPL",), now="2024-07-02 10:00:00", speed=20, ticks=3000,
                                       port_history=0, port_l1=0)) as emu:
        app = app_server(data=False, env={"TICKDECK_FEED_PORT_HISTORY": str(emu.port_history),
                                          "TICKDECK_FEED_PORT_L1": str(emu.port_l1)})
        catalog = Catalog(f"sqlite:///{app.data_dir / 'tickdeck.db'}")
        try:
            catalog.set_config("watchlist", ["AAPL"])
            page.goto(app.url + "monitor")
            row = page.locator("tr[data-service='live']")
            row.wait_for()
            assert row.get_attribute("data-state") == "stopped" and "stopped" in row.inner_text()

            page.get_by_role("button", name="Start live").click()
            page.locator("tr[data-service='live'][data-state='running']").wait_for(timeout=60_000)
            page.locator("tr[data-service='live']", has_text="ticks acknowledged").wait_for(timeout=60_000)
            assert "running for" in row.inner_text() and "AAPL" in row.inner_text()
            shot(page, "monitor-services")

            page.goto(app.url + "admin")
            admin_row = page.locator("tr[data-service='live'][data-state='running']")
            admin_row.wait_for(timeout=30_000)
            page.get_by_role("button", name="Stop live").click()
            page.locator("tr[data-service='live'][data-state='stopped']").wait_for(timeout=90_000)
            shot(page, "admin-services")
            # the requests went through the facade, as the page's user
            from types import SimpleNamespace

            control = ServiceControl(SimpleNamespace(catalog=catalog))
            want = control.desired("live")
            assert want.state == "stopped" and want.requested_by
            assert control.status("live").last_error == ""
        finally:
            catalog.engine.dispose()
