"""Typed events between two processes over real Redis, both ways: this process publishes one event of every
registered type, a subprocess receives each one typed (and checks it field by field against its own copy of
the sample), then publishes what it received back; this process receives those and compares them again."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from event_samples import SAMPLES, same
from tickdeck.core.bus import RedisBus
from tickdeck.core.events import EVENT_TYPES

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[3]

# The other process: receive on one prefix, check each event's class and fields, publish it on the other.
ECHO = """
import sys, threading
from event_samples import SAMPLES, same
from tickdeck.core.bus import RedisBus
from tickdeck.core.events import EVENT_TYPES

url, inbox, outbox, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
src, dst = RedisBus(url, prefix=inbox), RedisBus(url, prefix=outbox)
seen, done = [], threading.Event()

def echo(m):
    ok = type(m.event) is EVENT_TYPES[m.type] and same(SAMPLES[m.type](), m.event)
    seen.append(m.type + ("" if ok else "!"))
    dst.publish(m.event)
    if len(seen) == n:
        done.set()

src.listen("*", echo)  # returns once Redis confirmed the subscription
print("ready", flush=True)
finished = done.wait(120)
print("received " + " ".join(seen), flush=True)
src.close()
dst.close()
sys.exit(0 if finished else 1)
"""


def test_every_event_type_crosses_to_another_process_and_back_typed(redis_url):
    tag = uuid.uuid4().hex[:10]
    inbox, outbox = f"tickdeck-test-{tag}-in:", f"tickdeck-test-{tag}-out:"
    names = sorted(SAMPLES)
    assert set(names) == set(EVENT_TYPES)  # every registered type travels
    back, all_back = [], threading.Event()
    listener = RedisBus(redis_url, prefix=outbox)
    listener.listen("*", lambda m: (back.append(m), len(back) == len(names) and all_back.set()))
    publisher = RedisBus(redis_url, prefix=inbox)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    proc = subprocess.Popen([sys.executable, "-c", ECHO, redis_url, inbox, outbox, str(len(names))], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().strip()
        assert first == "ready", first + proc.stderr.read()[-3000:]
        sent = [publisher.publish(SAMPLES[name]()) for name in names]
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (out, err[-3000:])
        assert all_back.wait(30), f"{len(back)} of {len(names)} events came back"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        publisher.close()
        listener.close()
    # there: every event arrived, in order, of its own class and equal to the sample
    assert out.split("\n")[0].split()[1:] == names
    # back here: the same, with the other process's own sequence numbers (one publisher, nothing lost)
    assert [m.type for m in back] == names and [m.sequence for m in back] == list(range(1, len(names) + 1))
    for m, s in zip(back, sent):
        assert type(m.event) is type(s.event) and same(s.event, m.event), m.type
        assert m.topic == s.topic == s.event.topic
