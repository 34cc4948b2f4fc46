"""The service supervisor on a fake clock: crash restarts with backoff, giving up, bounded stop,
control through SQL from another "process", and the single-supervisor lease."""

from __future__ import annotations

import threading
import time

import pytest

from tickdeck.core.services import (
    BACKOFF_MAX_S,
    MAX_FAILURES,
    RESET_AFTER_S,
    ServiceConfigError,
    ServiceControl,
    Supervisor,
    ThreadService,
    UnknownService,
    backoff_delay,
)


class Clock:
    """Seconds since the epoch that move only when the test says so."""

    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


def wait_for(cond, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Crashing(ThreadService):
    """Raises at once (a feed that refuses the connection)."""

    name = "svc"

    def run(self, params, stop, beat):
        raise ConnectionRefusedError("feed refused the connection")


class Steady(ThreadService):
    """Runs until stopped, beating; ``release`` lets a deliberately slow final flush finish."""

    name = "svc"

    def __init__(self, ctx, *, flush_blocks: bool = False, **kw):
        super().__init__(ctx, **kw)
        self.flush_blocks = flush_blocks
        self.release = threading.Event()

    def run(self, params, stop, beat):
        beat("working")
        stop.wait()
        if self.flush_blocks:  # a final flush that takes longer than the stop timeout
            self.release.wait(30)
        beat("flushed")


def make(jctx, factory, clock, **kw):
    made = []

    def build(ctx):
        made.append(factory(ctx))
        return made[-1]

    sup = Supervisor(jctx, {"svc": build}, clock=clock, **kw)
    return sup, made, ServiceControl(jctx, names=["svc"], clock=clock)


def test_backoff_doubles_from_one_second_and_is_capped():
    """Issue 12: the restart delays are 1, 2, 4, … s, never more than BACKOFF_MAX_S."""
    assert [backoff_delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert BACKOFF_MAX_S == 60


def test_a_crashing_service_is_restarted_with_exponential_backoff_then_marked_failed(jctx):
    """Issue 12: a service that crashes is restarted after 1, 2, 4 … s of the (injected) clock,
    not before; after MAX_FAILURES crashes in a row it is failed with the last error."""
    clock = Clock()
    events = []
    jctx.bus.listen("services", lambda m: events.append(m.event))
    sup, made, control = make(jctx, Crashing, clock)
    control.start("svc", by="test")
    for n in range(1, MAX_FAILURES + 1):
        sup.tick()  # starts it (again)
        assert len(made) == n
        wait_for(lambda: not made[-1].health().alive, "the crash")
        sup.tick()  # sees the crash
        st = control.status("svc")
        if n == MAX_FAILURES:
            break
        assert (st.state, st.failures, st.restarts) == ("restarting", n, n - 1)
        assert "ConnectionRefusedError: feed refused the connection" in st.last_error
        clock.advance(backoff_delay(n) - 0.001)
        sup.tick()
        assert len(made) == n, "restarted before its backoff delay ran out"
        clock.advance(0.001)
    assert (st.state, st.failures) == ("failed", MAX_FAILURES)
    assert "failed after 8 crash(es)" in st.describe(clock())
    clock.advance(3600)
    sup.tick()
    assert len(made) == MAX_FAILURES  # given up: not restarted
    assert {e.state for e in events} == {"starting", "restarting", "failed"}
    assert events[-1].state == "failed" and "feed refused" in events[-1].last_error

    control.start("svc", by="test")  # started again by an operator: afresh
    sup.tick()
    assert len(made) == MAX_FAILURES + 1 and control.status("svc").failures == 0


def test_an_error_a_restart_cannot_fix_fails_the_service_at_once(jctx):
    """Issue 12: e.g. a symbol the feed does not know: no restart loop."""

    class Misconfigured(ThreadService):
        name = "svc"

        def run(self, params, stop, beat):
            raise ServiceConfigError("IQFeed does not know symbol(s) IBM")

    clock = Clock()
    sup, made, control = make(jctx, Misconfigured, clock)
    control.start("svc")
    sup.tick()
    wait_for(lambda: not made[-1].health().alive, "the crash")
    sup.tick()
    st = control.status("svc")
    assert (st.state, st.failures) == ("failed", 1) and "IQFeed does not know symbol(s) IBM" in st.last_error


def test_a_run_that_stayed_up_long_enough_resets_the_crash_count(jctx):
    """Issue 12: backoff restarts at 1 s again after a healthy run of RESET_AFTER_S."""
    clock = Clock()
    sup, made, control = make(jctx, Steady, clock)
    control.start("svc")
    sup.tick()
    sup.tick()
    assert control.status("svc").state == "running"
    sup.runs["svc"].failures = 3  # it had crashed three times before this run
    clock.advance(RESET_AFTER_S)
    sup.tick()
    assert sup.runs["svc"].failures == 0
    control.stop("svc")
    sup.tick()
    assert control.status("svc").state == "stopped"


def test_stop_is_bounded_and_says_so_when_the_final_flush_overruns(jctx):
    """Issue 12: stop waits at most the stop timeout; then the status is failed (stuck) with the
    reason, the service is not started twice, and it is stopped once its flush ends."""
    clock = Clock()
    sup, made, control = make(jctx, lambda ctx: Steady(ctx, flush_blocks=True), clock, stop_timeout=0.2)
    control.start("svc")
    sup.tick()
    sup.tick()
    control.stop("svc")
    t0 = time.monotonic()
    sup.tick()
    assert time.monotonic() - t0 < 5  # bounded by the 0.2 s timeout (plus SQL writes)
    st = control.status("svc")
    assert (st.state, st.stuck) == ("failed", True) and "did not stop within 0.2 s" in st.last_error
    assert "did not stop in time" in st.describe(clock())
    control.start("svc")  # asked to run again while the old flush still runs: wait for it
    sup.tick()
    assert len(made) == 1
    made[0].release.set()
    wait_for(lambda: not made[0].health().alive, "the flush to end")
    sup.tick()
    assert len(made) == 2 and control.status("svc").state == "starting"
    made[1].release.set()
    sup.shutdown(timeout=5)


def test_a_clean_stop_records_the_services_last_words(jctx):
    clock = Clock()
    sup, made, control = make(jctx, Steady, clock)
    control.start("svc", by="cli")
    sup.tick()
    wait_for(lambda: made[0].health().detail == "working", "its first beat")
    sup.tick()
    st = control.status("svc")
    assert (st.state, st.detail, st.requested_by, st.desired) == ("running", "working", "cli", "running")
    control.stop("svc", by="cli")
    sup.tick()
    st = control.status("svc")
    assert (st.state, st.detail, st.desired, st.last_error) == ("stopped", "flushed", "stopped", "")


def test_a_second_supervisor_stays_on_standby_while_the_first_holds_the_lease(jctx):
    """Issue 12: one supervisor per database runs the services."""
    clock = Clock()
    first, made1, control = make(jctx, Steady, clock)
    second, made2, _ = make(jctx, Steady, clock)
    second.host = "elsewhere:1"
    control.start("svc")
    first.tick()
    second.tick()
    assert second.standby and made2 == [] and len(made1) == 1
    first.shutdown(timeout=5)  # releases the lease
    second.tick()
    assert not second.standby and len(made2) == 1
    second.shutdown(timeout=5)


def test_control_names_an_unknown_service(jctx):
    with pytest.raises(UnknownService, match="no service named 'nope'; services: .*live") as e:
        ServiceControl(jctx).start("nope")
    assert {"live", "alerts"} <= set(str(e.value).split("services: ")[1].split(", "))
