"""What the ``indicators`` library holds per indicator group, for readers (the API) before and after
the indicators engine fills it.

Groups and the indicator-name prefix of their series (``<INDICATOR>/<YYYY-MM-DD>``, see
:mod:`core.naming`): ``market-breadth`` → ``BREADTH.``, ``options-flow`` → ``OPTIONS.``,
``derived-metrics`` → ``DERIVED.``. Read through the store's verbs only.
"""

from __future__ import annotations

from core import naming
from core.errors import NotFound

GROUPS = {"market-breadth": "BREADTH.", "options-flow": "OPTIONS.", "derived-metrics": "DERIVED."}


class NoIndicators(NotFound):
    """No series of an indicator group is stored."""


def stored_series(ctx, group: str) -> list[str]:
    """The stored series names of ``group`` (sorted).

    Raises
    ------
    NotFound
        Unknown group.
    NoIndicators
        None stored (the indicators engine has not written any).
    """
    if group not in GROUPS:
        raise NotFound(f"no indicator group {group!r}; groups: {', '.join(GROUPS)}")
    names = sorted(ctx.store.list_series(naming.INDICATORS_LIBRARY, prefix=GROUPS[group]))
    if not names:
        raise NoIndicators(f"no indicators stored for {group}: the indicators engine has not written any")
    return names
