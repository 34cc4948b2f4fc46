"""The deployment files agree with the code: every metric the Grafana dashboard and the Prometheus
alert rules use is defined in core/metrics.py (with a sample suffix its type has), the seeds' alerts
are there, and deploy/compose.yaml's services, URLs, ports, mounted files, commands and variables
fit each other, the Dockerfile and tickdeck's settings. (No promtool or docker here: parsed only.)"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tickdeck.core.metrics import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
NAME = re.compile(r"\btickdeck_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _check_names(exprs: list[str], where: str) -> set[str]:
    used = set()
    for expr in exprs:
        assert expr.count("(") == expr.count(")"), f"{where}: unbalanced parentheses in {expr!r}"
        for name in NAME.findall(expr):
            base = next((name[: -len(s)] for t, ss in SUFFIXES.items() for s in ss
                         if s and name.endswith(s) and METRIC_NAMES.get(name[: -len(s)]) == t), name)
            assert base in METRIC_NAMES, f"{where}: {name} is not a metric of core/metrics.py"
            kind = METRIC_NAMES[base]
            assert name[len(base):] in SUFFIXES[kind], f"{where}: {name}: a {kind} has no sample {name[len(base):]!r}"
            used.add(base)
    return used


def test_alert_rules_use_defined_metrics_and_cover_the_seeds_thresholds():
    doc = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    rules = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    assert {"TickdeckNoTicks", "TickdeckLineLatencyHigh", "TickdeckDiskLow", "TickdeckJobsFailed"} <= set(rules)
    used = _check_names([r["expr"] for r in rules.values()], "alerts.yml")
    assert "[30s]" in rules["TickdeckNoTicks"]["expr"] and 'session="regular"' in rules["TickdeckNoTicks"]["expr"]
    assert "> 0.5" in rules["TickdeckLineLatencyHigh"]["expr"]
    assert "< 0.10" in rules["TickdeckDiskLow"]["expr"]
    assert 'status="failed"' in rules["TickdeckJobsFailed"]["expr"]
    assert {"tickdeck_ingest_ticks", "tickdeck_l1_line_latency_seconds", "tickdeck_disk_free_ratio",
            "tickdeck_jobs_finished"} <= used


def test_dashboard_uses_defined_metrics_in_every_section():
    dash = json.loads((DEPLOY / "grafana" / "tickdeck.json").read_text())
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    assert rows == ["Data flow", "Latency", "Jobs", "Quality"]
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    used = _check_names(exprs, "tickdeck.json")
    # the list: every process metric and state metric is on the dashboard
    assert used == set(METRIC_NAMES), f"not on the dashboard: {sorted(set(METRIC_NAMES) - used)}"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _env(service: dict) -> dict:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def _default(value: str) -> str:
    """``${NAME:-default}`` -> default, anywhere in ``value``."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_compose_has_the_deployments_services(compose):
    assert {"tickdeck", "worker", "postgres", "redis", "nginx", "minio", "prometheus"} <= set(compose["services"])


def test_compose_urls_point_at_its_services_with_their_credentials(compose):
    svc = compose["services"]
    for name in ("tickdeck", "worker"):
        env = _env(svc[name])
        sql = urlsplit(_default(env["TICKDECK_SQL_URL"]))
        pg = _env(svc["postgres"])
        assert sql.hostname in svc and sql.hostname == "postgres" and sql.port == 5432
        assert sql.username == pg["POSTGRES_USER"] and _default(sql.password) == _default(pg["POSTGRES_PASSWORD"])
        assert sql.path.lstrip("/") == pg["POSTGRES_DB"]
        assert urlsplit(env["TICKDECK_REDIS_URL"]).hostname == "redis"
        arctic = _default(env["TICKDECK_ARCTIC_URI"])  # s3://<host>:<bucket>?port=…&access=…&secret=…
        host, bucket = arctic[len("s3://"):].split("?")[0].split(":")
        q = parse_qs(arctic.split("?", 1)[1])
        minio = {k: _default(v) for k, v in _env(svc["minio"]).items()}
        assert host == "minio" and q["port"] == ["9000"]
        assert q["access"] == [minio["MINIO_ROOT_USER"]] and q["secret"] == [minio["MINIO_ROOT_PASSWORD"]]
        assert f"store/{bucket}" in " ".join(svc["createbucket"]["command"])
        assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp") and "/tmp" in svc[name]["tmpfs"]


def test_compose_commands_parse_and_prometheus_scrapes_their_ports(compose):
    from tickdeck.app.cli import build_parser

    svc = compose["services"]
    args = {}
    for name in ("tickdeck", "worker"):
        cmd = svc[name]["command"]
        assert cmd[0] == "tickdeck"
        args[name] = build_parser(cmd[1]).parse_args(cmd[1:])  # every flag exists (SystemExit otherwise)
    assert args["tickdeck"].no_worker and args["worker"].scheduler
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"tickdeck:{args['tickdeck'].port}", f"worker:{args['worker'].metrics_port}"}
    assert prom["rule_files"] == ["/etc/prometheus/alerts.yml"]
    mounts = dict(v.split(":")[:2] for v in svc["prometheus"]["volumes"] if v.startswith("./"))
    assert mounts["./prometheus/alerts.yml"] == "/etc/prometheus/alerts.yml"
    # the server lets the compose network scrape without a key
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert _env(svc["tickdeck"])["TICKDECK_METRICS_ALLOW"] == subnet


def test_compose_mounts_files_that_exist_and_nginx_fronts_the_server(compose):
    mounted = {}
    for name, service in compose["services"].items():
        for v in service.get("volumes") or []:
            src, dst = v.split(":")[:2]
            if src.startswith("./"):
                assert (DEPLOY / src).exists(), f"{name} mounts {src}, which deploy/ does not have"
                mounted[src] = (name, dst)
    assert mounted["./nginx.conf"] == ("nginx", "/etc/nginx/nginx.conf")
    assert mounted["./grafana/tickdeck.json"][0] == "grafana"
    conf = (DEPLOY / "nginx.conf").read_text()
    port = compose["services"]["tickdeck"]["command"]
    assert re.search(rf"^\s*server tickdeck:{port[port.index('--port') + 1]}\b", conf, re.M)
    listen = re.search(r"^\s*listen (\d+);", conf, re.M).group(1)
    assert [p for p in compose["services"]["nginx"]["ports"] if p.endswith(f":{listen}")]


def test_every_tickdeck_variable_in_compose_is_one_tickdeck_reads(compose):
    code = "\n".join(p.read_text() for d in ("core", "app", "jobs") for p in (ROOT / d).rglob("*.py"))
    names = {k for s in compose["services"].values() for k in _env(s) if k.startswith("TICKDECK_")}
    assert names
    unknown = sorted(n for n in names if n not in code)
    assert not unknown, f"compose sets variables no code reads: {unknown}"


def test_dockerfile_runs_unprivileged_checks_health_and_allows_no_origin_wildcard():
    text = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = re.search(r"^HEALTHCHECK .*?CMD (.*)$", text, re.M | re.S)
    assert health and "/healthz" in health.group(1) and "curl" not in health.group(1)
    cmd = json.loads(re.findall(r"^CMD (\[.*\])$", text, re.M)[-1])
    assert "--allow-websocket-origin" not in cmd and '"*"' not in text
    port = cmd[cmd.index("--port") + 1]
    assert f"EXPOSE {port}" in text and f"127.0.0.1:{port}/healthz" in health.group(1)
    assert shlex.split(" ".join(cmd))[:2] == ["tickdeck", "serve"]
