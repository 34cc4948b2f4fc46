"""tickdeck: an open trading-data platform.

The layers install under this one name: :mod:`tickdeck.core` (data, storage, services),
:mod:`tickdeck.jobs` (the job queue and kinds), :mod:`tickdeck.pages` (the Panel pages) and
:mod:`tickdeck.app` (server, API and CLI). In the repository they are the top-level folders
``core/``, ``jobs/``, ``pages/`` and ``app/`` (mapped by ``setup.py`` when
installed; in a checkout this folder links to them, so ``python -m tickdeck`` and import-linter see
one package).
"""
__version__ = "0.1.0"
