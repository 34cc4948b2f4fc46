# tickdeck server image: embedded defaults (ArcticDB on LMDB + SQLite) under /data.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 TICKDECK_DATA_DIR=/data
WORKDIR /opt/tickdeck
COPY pyproject.toml setup.py README.md LICENSE ./
COPY tickdeck ./tickdeck
COPY app ./app
COPY pages ./pages
COPY core ./core
COPY jobs ./jobs
RUN pip install .
VOLUME ["/data"]
EXPOSE 5006
CMD ["tickdeck", "serve", "--address", "0.0.0.0", "--port", "5006", "--allow-websocket-origin", "*"]
