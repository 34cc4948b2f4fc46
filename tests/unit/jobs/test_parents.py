"""Parent and child jobs (``tickdeck.jobs.parent_id``): a parent waits for its children without holding a
worker slot and takes their outcome — failed with the child's message, cancelled, or succeeded."""

from __future__ import annotations

from builders import store_synthetic
from tickdeck.jobs.queue import JobQueue
from tickdeck.jobs.registry import KIND_NAMES
from tickdeck.jobs.worker import Worker


def _parent_with_children(queue, n=2):
    pid = queue.submit("backfill", {"symbols": ["AAPL"]}, priority=2)
    assert queue.claim("w").id == pid
    kids = [queue.submit("health", {}, parent_id=pid) for _ in range(n)]
    rec = queue.wait_for_children(pid, "w", {"queued": kids})
    return pid, kids, rec


def test_a_parent_waits_for_its_children_then_succeeds(queue):
    """Issue 12: the parent is 'waiting' (no slot), its progress follows the children."""
    pid, kids, rec = _parent_with_children(queue)
    assert rec.status == "waiting" and rec.message == "waiting for 2 child job(s)"
    assert [c.parent_id for c in queue.children(pid)] == [pid, pid]
    queue.claim("w2")
    queue.finish(kids[0], "succeeded")
    rec = queue.get(pid)
    assert (rec.status, rec.progress) == ("waiting", 50.0)
    queue.claim("w2")
    queue.finish(kids[1], "succeeded")
    rec = queue.get(pid)
    assert (rec.status, rec.progress, rec.message) == ("succeeded", 100.0, "done: 2 child job(s) succeeded")
    assert rec.finished_at is not None


def test_a_parent_fails_with_its_failed_childs_message_and_error(queue, jctx):
    """Issue 12: a backfill whose child failed is failed, with the child's message readable in
    its own message and the child's error text in its error."""
    seen = []
    jctx.bus.listen("jobs", lambda m: seen.append(m.event) if m.event.id == pid else None)
    pid, kids, _ = _parent_with_children(queue)
    queue.claim("w2")
    queue.finish(kids[0], "failed", error="Traceback …\nCollectionFailed: IQFeed does not know symbol 'IBM'",
                 message="CollectionFailed: IQFeed does not know symbol 'IBM'")
    assert queue.get(pid).status == "waiting"  # the other child still runs
    queue.claim("w2")
    queue.finish(kids[1], "succeeded")
    rec = queue.get(pid)
    assert rec.status == "failed"
    assert rec.message == (f"child job {kids[0]} (health) failed: CollectionFailed: IQFeed does not know symbol 'IBM'")
    assert "Traceback …\nCollectionFailed: IQFeed does not know symbol 'IBM'" in rec.error
    assert seen[-1].status == "failed" and "IQFeed does not know symbol 'IBM'" in seen[-1].error
    assert seen[-1].kind == "backfill" and seen[-1].parent_id is None


def test_retrying_a_failed_parent_retries_its_failed_children(queue):
    """Issue 12: retry re-runs what failed, not the children that succeeded."""
    pid, kids, _ = _parent_with_children(queue)
    queue.claim("w2")
    queue.finish(kids[0], "failed", error="boom", message="RuntimeError: boom")
    queue.claim("w2")
    queue.finish(kids[1], "succeeded")
    assert queue.get(pid).status == "failed"
    rec = queue.retry(pid)
    assert (rec.status, rec.retries) == ("waiting", 1)
    assert [queue.get(k).status for k in kids] == ["pending", "succeeded"]
    assert queue.claim("w2").id == kids[0]
    queue.finish(kids[0], "succeeded")
    assert queue.get(pid).status == "succeeded"


def test_retrying_a_failed_child_reopens_its_parent(queue):
    pid, kids, _ = _parent_with_children(queue, n=1)
    queue.claim("w2")
    queue.finish(kids[0], "failed", error="boom", message="RuntimeError: boom")
    assert queue.get(pid).status == "failed"
    queue.retry(kids[0])
    assert queue.get(pid).status == "waiting"


def test_cancelling_a_waiting_parent_cancels_its_children(queue):
    pid, kids, _ = _parent_with_children(queue)
    running = queue.claim("w2").id
    rec = queue.cancel(pid)
    assert rec.status == "waiting" and rec.cancel_requested
    assert queue.get(kids[1]).status == "cancelled" and queue.get(running).cancel_requested
    queue.finish(running, "cancelled")
    rec = queue.get(pid)
    assert rec.status == "cancelled" and rec.message.startswith(f"child job {kids[0]} (health) was cancelled")


def test_a_parent_whose_children_finished_before_it_returned_is_settled_at_once(queue):
    pid = queue.submit("backfill", {}, priority=2)
    queue.claim("w")
    kid = queue.submit("health", {}, parent_id=pid)
    queue.claim("w2")
    queue.finish(kid, "succeeded")  # the parent's function has not returned yet: nothing to settle
    assert queue.get(pid).status == "running"
    assert queue.wait_for_children(pid, "w").status == "succeeded"


def test_a_backfill_through_the_worker_fails_with_its_collect_childs_error(jctx):
    """Issue 12: through the real queue and worker — the IQFeed child fails (the feed port is
    closed) and the backfill is failed with that child's message, not 'done'."""
    store_synthetic(jctx, "SYN", "2024-07-01", "2024-07-01", ticks=200)
    q = JobQueue(jctx.catalog.engine, jctx.bus)
    pid = q.submit("backfill", {"symbols": ["SYN", "FEED"], "start": "2024-07-01", "end": "2024-07-02"})
    jctx2 = jctx.settings.with_(feed_port_history=1)  # nothing listens on port 1
    ctx = type(jctx)(jctx2, jctx.store, jctx.catalog, jctx.bus)
    Worker(ctx, slots=2).run(once=True)
    parent = q.get(pid)
    kids = {c.kind: c for c in q.children(pid)}
    assert set(kids) == {"generate", "collect"}  # the synthetic dataset went to the generator
    assert kids["generate"].status == "succeeded" and kids["collect"].status == "failed"
    assert parent.status == "failed", parent.message
    assert parent.message.startswith(f"child job {kids['collect'].id} (collect FEED 2024-07-01..2024-07-02) failed: "
                                     "CollectionFailed:")
    assert kids["collect"].message in parent.message
    assert jctx.catalog.stored_days("SYN")[-1].isoformat() == "2024-07-02"


def test_every_registered_kind_is_one_the_queue_accepts():
    from tickdeck.jobs.kinds import KINDS

    assert set(KINDS) == set(KIND_NAMES)
