"""The service context: settings plus the opened store, catalog and bus, passed down explicitly.

``Context.open(settings)`` connects everything once at start-up and fails fast with a
one-line :class:`~core.errors.ConfigError` naming the variable at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tickdeck.core.calendar import MarketCalendar, get_calendar
from tickdeck.core.catalog import Catalog
from tickdeck.core.config import Settings
from tickdeck.core.errors import ConfigError
from tickdeck.core.bus import LocalBus, make_bus
from tickdeck.core.store import Store, redacted_uri


@dataclass
class Context:
    settings: Settings
    store: Store
    catalog: Catalog
    bus: LocalBus
    extras: dict = field(default_factory=dict)  # per-process services added by later layers

    @classmethod
    def open(cls, settings: Settings) -> "Context":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            store = Store(settings.arctic_uri)
        except Exception as e:
            raise ConfigError("TICKDECK_ARCTIC_URI", f"cannot open {redacted_uri(settings.arctic_uri)}: {e}") from None
        catalog = Catalog(settings.sql_url)
        try:
            bus = make_bus(settings.redis_url)
        except Exception as e:
            raise ConfigError("TICKDECK_REDIS_URL", f"cannot connect to {settings.redis_url}: {e}") from None
        return cls(settings, store, catalog, bus)

    def calendar(self, name: str | None = None) -> MarketCalendar:
        return get_calendar(name or self.settings.calendar)

    def calendar_for(self, symbol: str) -> MarketCalendar:
        ds = self.catalog.dataset(symbol)
        return self.calendar(ds.calendar if ds is not None and ds.calendar else None)

    def close(self) -> None:
        self.bus.close()
        self.catalog.engine.dispose()
