"""The services panel (monitor and admin pages) over the real control, supervisor and SQL store:
state in words, restarts, last error, since when, and Start/Stop buttons that go through the
injected facade (and its permission check)."""

from __future__ import annotations

import time

from tickdeck.core.errors import PermissionDenied
from tickdeck.core.services import ServiceControl, Supervisor, ThreadService
from tickdeck.pages.components.service_panel import ServicesPanel


class Flaky(ThreadService):
    """Runs until stopped; the first run crashes (a feed that refused the connection)."""

    name = "flaky"
    runs = 0

    def run(self, params, stop, beat):
        Flaky.runs += 1
        if Flaky.runs == 1:
            raise ConnectionRefusedError("feed refused the connection")
        beat("streaming 3 symbols")
        stop.wait()


def _wait(cond, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _row(panel, name):
    html = panel.table.object
    start = html.index(f'data-service="{name}"')
    return html[start:html.index("</tr>", start)]


def test_panel_shows_state_restarts_last_error_and_since_and_its_buttons_drive_the_service(ctx):
    """Issue 12: the monitor/admin services panel — start, a crash restarted with backoff, the
    error and restart count visible, stop — through the facade, as a page session would."""
    Flaky.runs = 0
    clock = [1_800_000_000.0]
    sup = Supervisor(ctx, {"flaky": Flaky}, clock=lambda: clock[0])
    control = ServiceControl(ctx, names=["flaky"], clock=lambda: clock[0])
    panel = ServicesPanel(services=control, actor="ops", autostart=False, clock=lambda: clock[0])
    assert 'data-state="stopped"' in _row(panel, "flaky") and "○" in _row(panel, "flaky")
    assert [b.label for b in panel.buttons] == ["Start flaky", "Stop flaky"]

    panel.buttons[0].clicks += 1  # Start flaky
    assert control.desired("flaky").state == "running" and control.desired("flaky").requested_by == "ops"
    assert 'data-desired="running"' in _row(panel, "flaky") and "requested: running" in _row(panel, "flaky")
    sup.tick()
    _wait(lambda: not sup.runs["flaky"].service.health().alive, "the first run's crash")
    sup.tick()
    panel.refresh()
    row = _row(panel, "flaky")
    assert 'data-state="restarting"' in row and "crashed; restart 1 in 1 s" in row
    assert "ConnectionRefusedError: feed refused the connection" in row
    clock[0] += 1
    sup.tick()
    _wait(lambda: sup.runs["flaky"].service.health().detail == "streaming 3 symbols", "the second run")
    sup.tick()
    panel.refresh()
    row = _row(panel, "flaky")
    assert 'data-state="running"' in row and "running for" in row and "streaming 3 symbols" in row
    assert '<td data-label="Restarts">1</td>' in row  # one restart

    panel.buttons[1].clicks += 1  # Stop flaky
    sup.tick()
    panel.refresh()
    assert 'data-state="stopped"' in _row(panel, "flaky") and control.desired("flaky").requested_by == "ops"
    assert panel.last_error == ""


def test_without_the_admin_role_the_buttons_are_off_and_a_request_is_refused(ctx):
    def viewer_only():
        raise PermissionDenied("starting or stopping a service needs the admin role; ann is a viewer")

    control = ServiceControl(ctx, names=["flaky"], authorize=viewer_only)
    panel = ServicesPanel(services=control, autostart=False)
    assert all(b.disabled for b in panel.buttons[:2])
    assert "needs the admin role" in panel.buttons[2].object
    panel.start("flaky")
    assert panel.last_error == "starting or stopping a service needs the admin role; ann is a viewer"
    assert control.desired("flaky").state == "stopped"


def test_without_a_facade_the_panel_says_services_are_not_available(ctx):
    panel = ServicesPanel(autostart=False)
    assert "No services are available here" in panel.table.object and len(panel.buttons) == 0
