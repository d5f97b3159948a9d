#!/usr/bin/env bash
# Installs the system packages aimon builds and tests with (Debian 12 / Ubuntu). Needs root or sudo.
set -euo pipefail
# systemd: its journald is where alerts go; postgresql: the integration tests' private alert table.
packages=(libhiredis-dev libsystemd-dev libsqlite3-dev libpq-dev redis-server postgresql systemd pkg-config)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The packaged redis-server and postgresql services are not needed: tests and the demo start private instances.
command -v redis-server >/dev/null || { echo "redis-server is missing after install" >&2; exit 1; }
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later (swift.org)" >&2; exit 1; }
