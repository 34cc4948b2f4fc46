"""Job errors shared by the queue, the runner and the job kinds (so kinds need not import the queue)."""

from __future__ import annotations

from tickdeck.core.errors import JobError, NotFound


class JobCancelled(JobError):
    """Raised inside a job (by its ``progress`` callable) when a cancel was requested."""

    def __init__(self, job_id: int | None = None, note: str = ""):
        self.job_id, self.note = job_id, note  # note: how the job stopped (e.g. a live stop's final flush)
        super().__init__(f"job {job_id} was cancelled" if job_id is not None else "job was cancelled")


class JobNotFound(JobError, NotFound):
    """No job row with this id."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        super().__init__(f"no job with id {job_id}")
