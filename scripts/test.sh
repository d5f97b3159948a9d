#!/usr/bin/env bash
# Builds and runs every test: unit, tailer (real files), and integration (real redis-server and the
# real aimon binary). The integration tests start their own redis-server on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
swift build --build-tests
swift test --skip-build
