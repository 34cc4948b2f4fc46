"""Progress events: what long operations report, and how the report travels.

A long operation takes a ``progress`` callable and calls it with :class:`Progress` values.
The CLI renders them with tqdm, the job runner persists and publishes them, pages show a bar.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable


@dataclass(frozen=True)
class Progress:
    stage: str
    done: int
    total: int
    message: str = ""
    job_id: int | None = None

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "percent": self.percent}


ProgressFn = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    return None


class TqdmProgress:
    """A ``progress`` callable that drives one tqdm bar per stage (CLI use)."""

    def __init__(self, disable: bool = False):
        self._bars: dict[str, object] = {}
        self.disable = disable

    def __call__(self, p: Progress) -> None:
        from tqdm import tqdm

        bar = self._bars.get(p.stage)
        if bar is None:
            bar = self._bars[p.stage] = tqdm(total=p.total, desc=p.stage, unit="day", disable=self.disable,
                                             leave=True, dynamic_ncols=True)
        bar.total = p.total
        bar.n = p.done
        if p.message:
            bar.set_postfix_str(p.message, refresh=False)
        bar.refresh()

    def close(self) -> None:
        for b in self._bars.values():
            b.close()
        self._bars.clear()
