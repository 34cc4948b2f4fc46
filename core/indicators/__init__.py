"""Market indicators: the catalog, local market breadth, derived per-symbol metrics and the engine that
stores and publishes them."""
