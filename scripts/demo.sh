#!/usr/bin/env bash
# The main job, end to end: build aimon, start a private Redis, generate a gateway log with an outage
# on one model and a slow model, run the daemon on it while more lines arrive, then show the alerts
# (from the journal and the alert table) and the report.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/start-journal.sh || echo "(no journal: alerts will be in the daemon's stderr below)"
echo "== building aimon"
swift build --product aimon >/dev/null
swift build --product aimon-bench >/dev/null
bin=$(swift build --show-bin-path)

demo=$(mktemp -d /tmp/aimon-demo.XXXXXX)
port=$(( 20000 + RANDOM % 20000 ))
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$demo" \
  --daemonize yes --pidfile "$demo/redis.pid" --logfile "$demo/redis.log"
cleanup() { redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; }
trap cleanup EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done

host="demo-$(basename "$demo")"
cat > "$demo/aimon.yaml" <<YAML
host_id: $host
sources:
  - path: $demo/logs/*.jsonl
    start_at: beginning
redis:
  url: redis://127.0.0.1:$port/0
thresholds:
  avg_response_time_max: 5s     # the seed's 10 s, lowered so the slow model shows
rules:
  consecutive_failures:
    keep_firing_for: 5s         # the default is 1m; shorter so the demo shows the resolution
alerts:
  database: sqlite://$demo/alerts.db
  evaluate_interval: 1s
YAML
mkdir -p "$demo/logs"
echo "== a gateway log: 20000 calls over two hours; claude-3-5-sonnet fails for the last 10 minutes, mistral-large is slow"
"$bin/aimon-bench" generate --lines 20000 --minutes 120 --outage-model claude-3-5-sonnet --slow-model mistral-large \
  "$demo/logs/gateway.jsonl"

echo "== config (--connect: Redis, the alert table and the journal are reached too)"
"$bin/aimon" check-config --config "$demo/aimon.yaml" --connect

echo "== aimon run (the daemon, in the foreground here; logs on stderr)"
"$bin/aimon" run --config "$demo/aimon.yaml" 2> "$demo/aimon.log" &
daemon=$!
committed() { redis-cli -p "$port" hget "aimon:ingest:$host" lines; }
until [ "$(committed)" = "20000" ]; do sleep 0.1; done
echo "the daemon has committed the first 20000 lines; 2000 more calls arrive while it runs:"

"$bin/aimon-bench" generate --lines 2000 --minutes 1 --seed 7 --append --outage-model claude-3-5-sonnet "$demo/logs/gateway.jsonl"
until [ "$(committed)" = "22000" ]; do sleep 0.1; done
echo "claude-3-5-sonnet recovers: 2000 calls without the outage"
"$bin/aimon-bench" generate --lines 2000 --minutes 1 --seed 8 --append "$demo/logs/gateway.jsonl"
until [ "$(committed)" = "24000" ]; do sleep 0.1; done
echo "waiting for the consecutive-failure alert to resolve (keep_firing_for: 5s)..."
for _ in $(seq 300); do
  "$bin/aimon" alerts --config "$demo/aimon.yaml" --active | grep -q consecutive_failures || break
  sleep 0.1
done
kill -TERM "$daemon"; wait "$daemon"
echo "daemon stopped cleanly; its log:"
sed 's/^/  /' "$demo/aimon.log"

if [ -S /run/systemd/journal/socket ]; then
  echo; echo "== the alerts in the journal: journalctl SYSLOG_IDENTIFIER=aimon AIMON_HOST=$host"
  journalctl --no-pager -o short-iso SYSLOG_IDENTIFIER=aimon "AIMON_HOST=$host"
  echo; echo "== one of them with its fields: journalctl -o verbose MESSAGE_ID=b38ad26cbf9a4612bb1446fc2249486e"
  journalctl --no-pager -o verbose -n 1 MESSAGE_ID=b38ad26cbf9a4612bb1446fc2249486e "AIMON_HOST=$host" | grep -E '^ +(MESSAGE|PRIORITY|AIMON_)'
fi
echo; echo "== aimon alerts (the alert table, $demo/alerts.db)"
"$bin/aimon" alerts --config "$demo/aimon.yaml"

echo; echo "== aimon stats --hours 1"
"$bin/aimon" stats --config "$demo/aimon.yaml" --hours 1
echo; echo "== aimon stats --json --model claude-3-5-sonnet --hours 0.2"
"$bin/aimon" stats --config "$demo/aimon.yaml" --json --model claude-3-5-sonnet --hours 0.2
echo; echo "(demo files in $demo)"
