"""Market indicators: the catalog, local market breadth, derived per-symbol metrics and the engine that
stores and publishes them.

Modules:

* :mod:`core.indicators.catalog` — every indicator tickdeck knows: meaning, unit, source, DTN symbol.
* :mod:`core.indicators.breadth` — market breadth computed locally over the collected universe.
* :mod:`core.indicators.derived` — the 20 derived per-symbol metrics over rolling windows (its compiled
  passes in :mod:`core.indicators._derived_kernels`).
* :mod:`core.indicators.store` — the ``indicators`` library layout, through the store's verbs.
* :mod:`core.indicators.service` — the supervised live indicators service.
* :mod:`core.indicators.build` — history: the same series from stored tick days.
"""
