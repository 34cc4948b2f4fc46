"""The admin page's health banner: CPU degrades it only when sustained, and it names the checks.

Real ctx and real probes; the CPU window gets a scripted sampler and a simulated clock.
"""

from __future__ import annotations

from tickdeck.app.routes import QueueJobs
from tickdeck.core.health import CpuWindow
from tickdeck.core.users import User
from tickdeck.pages.admin import AdminPage


class Clock:
    t = 0.0

    def __call__(self):
        return self.t


def test_one_saturated_cpu_reading_does_not_turn_the_banner_degraded_and_a_sustained_minute_does(ctx):
    clock = Clock()
    page = AdminPage(ctx=ctx, autostart=False, user=User("ops", "admin"), jobs=QueueJobs.for_context(ctx),
                     cpu=CpuWindow(lambda: 100.0, clock))
    page.refresh_health(wait=True)
    html = page.health_pane.object
    assert "data-check='cpu' data-status='ok'" in html
    assert "data-checks='" not in html or "cpu" not in html.split("data-checks='")[1].split("'")[0]
    for _ in range(2):
        clock.t += 30.0
        page.refresh_health(wait=True)
    html = page.health_pane.object
    assert "data-check='cpu' data-status='degraded'" in html
    assert "System Degraded" in html or "System Unhealthy" in html
    named = html.split("data-checks='")[1].split("'")[0].split()
    assert "cpu" in named
    why = html.split("data-testid='health-why'")[1]
    assert "CPU degraded: 100% now; above 95% for the last 60 s" in why
