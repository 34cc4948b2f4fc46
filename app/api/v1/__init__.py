"""``/api/v1``: one router module per resource. Each ``app/api/v1/<resource>.py`` defines
``router = APIRouter(tags=[...])`` with paths relative to ``/api/v1``; :func:`app.api.create_api`
includes every module named here (one line per module: add yours)."""

ROUTERS: list[str] = [
    "me",
    "keys",
    "collection",
    "feeds",
    "jobs",
    "exports",
    "imports",
    "admin",
    "indicators",
    "datasets",
    "data",
    "validation",
    "catalog",
    "alerts",
    "replay",
]
