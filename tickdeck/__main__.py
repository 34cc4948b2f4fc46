"""``python -m tickdeck``: the ``tickdeck`` command."""
from tickdeck.app.cli import main

raise SystemExit(main())
