#!/usr/bin/env bash
# Makes sure a systemd journal is listening at /run/systemd/journal/socket, where aimon sends alerts.
# On a systemd host it already is. In a container or CI (no systemd as PID 1), this starts
# systemd-journald on its own, as PLATFORM.md describes. Needs root for that case.
set -euo pipefail
socket=/run/systemd/journal/socket
# A socket file alone is not enough: a journald that died leaves it behind, and sends then fail.
[ -S "$socket" ] && pgrep -x systemd-journal >/dev/null && exit 0
journald=/lib/systemd/systemd-journald
[ -x "$journald" ] || { echo "no journal socket and no $journald: install the systemd package" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "no journal at $socket; starting systemd-journald needs root (sudo $0)" >&2; exit 1; }
mkdir -p /run/systemd/journal
rm -f "$socket"
setsid "$journald" </dev/null >/dev/null 2>&1 &
for _ in $(seq 100); do [ -S "$socket" ] && exit 0; sleep 0.05; done
echo "systemd-journald did not create $socket" >&2
exit 1
