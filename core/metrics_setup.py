"""Multiprocess metrics set-up, run by ``tickdeck serve`` and ``tickdeck worker`` before anything
imports ``prometheus_client`` (it reads ``PROMETHEUS_MULTIPROC_DIR`` when it is imported).

Every process of a deployment that shares a data directory writes its metrics as files under
``<data_dir>/run/prometheus`` (or the directory ``PROMETHEUS_MULTIPROC_DIR`` already names, which
must then be shared by those processes and local to the host); a scrape of any server process
reads them all (:func:`core.metrics.render`). Files of processes that are gone:

* at start, when no process that wrote to the directory is alive any more, the directory is
  emptied (a new deployment starts its counters at 0, which Prometheus handles as a reset);
* otherwise, and at every scrape, the *live* gauges of dead processes are removed
  (``prometheus_client.multiprocess.mark_process_dead``), while their counters and histograms
  stay, so totals never go backwards while the deployment runs.

This module imports ``prometheus_client`` only after the variable is set.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import psutil

from tickdeck.core.errors import ConfigError

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
RUN_SUBDIR = Path("run") / "prometheus"
_FILE_PID = re.compile(r"_(\d+)\.db$")


def metrics_dir(data_dir: Path) -> Path:
    """Where the processes of ``data_dir`` write their metrics (unless ``PROMETHEUS_MULTIPROC_DIR`` is set)."""
    return Path(data_dir) / RUN_SUBDIR


def _pids(path: Path) -> set[int]:
    return {int(m.group(1)) for f in path.glob("*.db") if (m := _FILE_PID.search(f.name))}


def forget_dead_processes(path) -> list[int]:
    """Remove the live gauges of processes that are gone; returns their pids."""
    from prometheus_client.multiprocess import mark_process_dead

    dead = [pid for pid in _pids(Path(path)) if not psutil.pid_exists(pid)]
    for pid in dead:
        mark_process_dead(pid, str(path))
    return dead


def enable_multiprocess(data_dir: Path) -> Path | None:
    """Point ``prometheus_client`` at the shared metrics directory of ``data_dir``; returns it, or None
    when this process imported ``tickdeck.core.metrics`` before (its metrics then stay its own).

    Raises
    ------
    ConfigError
        The directory cannot be created or written.
    """
    path = Path(os.environ.get(MULTIPROC_ENV) or metrics_dir(data_dir))
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(MULTIPROC_ENV, f"metrics directory {path} is not writable: {e}") from e
    if "tickdeck.core.metrics" in sys.modules and os.environ.get(MULTIPROC_ENV) != str(path):
        # Called inside a process that already counts on its own (a test, a notebook running a command):
        # switching now would lose what it counted; its /metrics (if any) shows this process only.
        log.warning("metrics: %s not used, this process's metrics were set up before (in-process only)", path)
        return None
    others = _pids(path) - {os.getpid()}
    if others and not any(psutil.pid_exists(p) for p in others):
        for f in path.glob("*.db"):  # a fresh start: no writer of these files runs any more
            f.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)
    if "prometheus_client.values" in sys.modules:  # imported early (by a library): switch its value class now
        from prometheus_client import values

        values.ValueClass = values.get_value_class()
    forget_dead_processes(path)
    return path
