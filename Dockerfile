# tickdeck server image. Alone it runs the embedded defaults (ArcticDB on LMDB + SQLite) under /data;
# deploy/compose.yaml runs the same image as server and worker on PostgreSQL, Redis and S3 (docs/operations.md
# "Container"). It runs as the unprivileged user `tickdeck` (uid 10001), checks itself on /healthz, and lets
# pages open websockets only from the hosts in TICKDECK_ALLOW_WEBSOCKET_ORIGIN (comma-separated host[:port],
# e.g. "tickdeck.example.com,localhost:8080"; unset: only the server's own address).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    TICKDECK_DATA_DIR=/data TICKDECK_LOG_FORMAT=json TICKDECK_LOG_LEVEL=INFO \
    TICKDECK_ALLOW_WEBSOCKET_ORIGIN=""
WORKDIR /opt/tickdeck
COPY pyproject.toml setup.py README.md LICENSE ./
COPY tickdeck ./tickdeck
COPY app ./app
COPY pages ./pages
COPY core ./core
COPY jobs ./jobs
RUN pip install . \
 && groupadd --system --gid 10001 tickdeck \
 && useradd --system --uid 10001 --gid tickdeck --home-dir /data --shell /usr/sbin/nologin tickdeck \
 && mkdir -p /data \
 && chown tickdeck:tickdeck /data
USER tickdeck:tickdeck
VOLUME ["/data"]
EXPOSE 5006
# Liveness of the server process (no curl in the image). A worker container overrides or disables it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5006/healthz', timeout=4).status == 200 else 1)"]
CMD ["tickdeck", "serve", "--address", "0.0.0.0", "--port", "5006"]
