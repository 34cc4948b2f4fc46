#!/usr/bin/env bash
# Install the Debian packages the suite drives for real when they are missing and we can (root + apt):
# chromium (browser tests) and nginx (tests/integration/deploy: nginx in front of several servers).
# Otherwise say so: those tests then skip locally, and fail under CI=true.
# (The S3 emulator is moto's server, a Python package in the test extras: nothing to install here.)
set -u
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "${#missing[@]}" = "0" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian ${missing[*]} for the tests (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  # nginx-light would do; `nginx` is the package name on every Debian/Ubuntu release. The service is
  # not started: the tests run their own nginx on a loopback port with a config in a temporary dir.
  if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    exit 0
  fi
  echo "warning: apt-get install ${missing[*]} failed" >&2
else
  echo "note: ${missing[*]} not installed and cannot be installed here (needs root and apt);" \
       "the tests needing them will skip (and fail under CI=true)." >&2
fi
exit 0
