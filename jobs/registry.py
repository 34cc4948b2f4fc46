"""The job kinds' names: what the queue accepts.

The kind functions live in :mod:`jobs.kinds`, which sits above the queue (a kind may use it);
the queue checks a submitted kind against :data:`KIND_NAMES` without importing them.
:func:`jobs.kinds.register` refuses a name missing here, so the two cannot drift apart.
"""

from __future__ import annotations

from tickdeck.core.errors import JobError

KIND_NAMES = ("collect", "backfill", "build-bars", "validate", "finalize", "export", "retention", "health", "generate",
              "import", "indicators_build", "backup")


def check_kind(kind: str) -> str:
    """``kind`` when it is a job kind.

    Raises
    ------
    JobError
        Not one of :data:`KIND_NAMES`.
    """
    if kind not in KIND_NAMES:
        raise JobError(f"unknown job kind {kind!r}; choose one of {', '.join(sorted(KIND_NAMES))}")
    return kind
