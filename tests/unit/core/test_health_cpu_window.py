"""CPU health over a sustained window: one saturated reading is not a degraded system.

The sampler and the clock are injected (a list of readings, each the CPU use since the previous
one, and a simulated clock), so the window is judged deterministically; the rest of the report
is the real probes on a real ctx.
"""

from __future__ import annotations

from tickdeck.core.health import CPU_WINDOW_S, CpuWindow, check_health, degraded_checks


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def _window(readings, clock):
    it = iter(readings)
    return CpuWindow(lambda: next(it), clock)


def test_one_full_cpu_reading_is_ok_and_says_it_was_a_spike():
    clock = Clock()
    w = _window([100.0], clock)
    status, detail, value = w.check()
    assert status == "ok" and value == 100.0 and "spike" in detail


def test_cpu_degrades_only_after_a_whole_window_of_saturated_samples():
    clock = Clock()
    w = _window([99.0] * 5, clock)
    seen = []
    for _ in range(5):  # a sample every 15 s: 0, 15, 30, 45, 60 s
        seen.append(w.check()[0])
        clock.t += CPU_WINDOW_S / 4
    assert seen == ["ok", "ok", "ok", "ok", "degraded"]


def test_a_dip_keeps_cpu_ok_until_a_whole_window_after_it_is_saturated():
    clock = Clock()
    w = _window([99.0, 99.0, 40.0, 99.0, 99.0], clock)
    out = []
    for _ in range(5):  # every 30 s; each sample is the mean since the previous one
        out.append(w.check()[0])
        clock.t += 30.0
    assert out == ["ok", "ok", "ok", "ok", "degraded"]  # the 30–60 s dip is in every window up to 90 s


def test_a_long_interval_counts_as_its_mean():
    clock = Clock()
    busy = _window([10.0, 99.0], clock)
    busy.check()
    clock.t += 5 * CPU_WINDOW_S  # a scheduled check minutes later: its sample is the mean over them
    assert busy.check()[0] == "degraded"
    calm = _window([99.0, 60.0], clock)
    calm.check()
    clock.t += 5 * CPU_WINDOW_S
    assert calm.check()[0] == "ok"


def test_health_report_names_cpu_as_the_degraded_check_only_when_sustained(ctx):
    clock = Clock()
    w = _window([100.0] * 3, clock)
    first = check_health(ctx, cpu=w)
    assert first.check("cpu").status == "ok"
    assert "cpu" not in {c.name for c in degraded_checks(first)}
    clock.t += 30.0
    check_health(ctx, cpu=w)
    clock.t += 30.0
    third = check_health(ctx, cpu=w)
    assert third.check("cpu").status == "degraded" and third.status in ("degraded", "unhealthy")
    assert "cpu" in {c.name for c in degraded_checks(third)}
    assert "for the last 60 s" in third.check("cpu").detail
