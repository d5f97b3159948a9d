#!/usr/bin/env bash
# Installs the system packages aimon builds and tests with (Debian 12 / Ubuntu). Needs root or sudo.
#   ./scripts/install-deps.sh           what building, the tests and the demo need
#   ./scripts/install-deps.sh --build   only what building needs (the C libraries), e.g. on a gateway host
set -euo pipefail
build=(libhiredis-dev libsystemd-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libmicrohttpd-dev libcrypt-dev pkg-config)
# redis-server and postgresql: the private instances of the tests and the demo; systemd: its journald
# is where alerts go (started by scripts/start-journal.sh where systemd does not run); logrotate: the
# rotation tests run the real one; prometheus-alertmanager: the Alertmanager tests run the real one (with
# a webhook receiver in python3); prometheus: a real one scrapes /metrics in the tests; chromium: the
# status page is opened in a real headless browser.
services=(redis-server postgresql systemd logrotate prometheus-alertmanager prometheus python3 chromium)
packages=("${build[@]}")
[ "${1:-}" = "--build" ] || packages+=("${services[@]}")
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The packaged redis-server and postgresql services are not needed: tests and the demo start private instances.
if [ "${1:-}" != "--build" ]; then
  command -v redis-server >/dev/null || { echo "redis-server is missing after install" >&2; exit 1; }
fi
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later (swift.org)" >&2; exit 1; }
