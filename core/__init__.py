"""tickdeck core: the domain, importable without any UI library.

Schema, calendar, store, catalog, sources (synthetic market, IQFeed client and emulator,
file importers), bars, validation, export and the events bus live here. Nothing in this
package imports panel, bokeh, holoviews or datashader.
"""

__version__ = "0.1.0"
