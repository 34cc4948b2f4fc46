"""CLI verbs, one module each (discovered by ``tickdeck.app.cli``)."""
