"""CLI verbs, one module each (discovered by ``app.cli``)."""
