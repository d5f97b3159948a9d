#!/usr/bin/env bash
# Builds and runs every test: unit, tailer (real files), and integration (the real aimon binary, a
# real redis-server, the systemd journal, SQLite and PostgreSQL). The integration tests start their own
# redis-server and PostgreSQL on free loopback ports; the journal is system-wide, so it is started
# here when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/start-journal.sh
swift build --build-tests
swift test --skip-build
