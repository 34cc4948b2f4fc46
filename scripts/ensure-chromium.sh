#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests when it is missing and we can (root + apt).
# Otherwise say so: browser tests then skip locally, and fail under CI=true.
set -u
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser tests (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null && exit 0
  echo "warning: apt-get install chromium failed" >&2
else
  echo "note: chromium is not installed and cannot be installed here (needs root and apt);" \
       "browser tests will skip (and fail under CI=true)." >&2
fi
exit 0
