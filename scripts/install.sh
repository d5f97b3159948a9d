#!/usr/bin/env bash
# Installs aimon as a systemd service: builds it in release mode, then installs the binary, the unit,
# the example configuration (never over an existing one) and the journal catalog.
#
#   sudo ./scripts/install.sh               build and install under /usr/local, /etc, /usr/lib
#   sudo ./scripts/install.sh --uninstall   remove them again (the configuration and the alert
#                                           table in /var/lib/aimon are kept)
# Options: --destdir DIR (stage into DIR, e.g. for a package), --binary PATH (install this binary
# instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."

destdir=""
binary=""
uninstall=false
while [ $# -gt 0 ]; do
  case "$1" in
    --destdir) destdir="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --uninstall) uninstall=true; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
done
bin="$destdir/usr/local/bin/aimon"
unit="$destdir/etc/systemd/system/aimon.service"
config="$destdir/etc/aimon/aimon.yaml"
catalog="$destdir/usr/lib/systemd/catalog/aimon.catalog"
live=false; [ -z "$destdir" ] && [ -d /run/systemd/system ] && live=true

if $uninstall; then
  if $live; then systemctl disable --now aimon.service 2>/dev/null || true; fi
  rm -f "$bin" "$unit" "$catalog"
  if $live; then systemctl daemon-reload; fi
  if [ -z "$destdir" ] && command -v journalctl >/dev/null; then journalctl --update-catalog || true; fi
  echo "aimon removed. Kept: $destdir/etc/aimon (configuration) and $destdir/var/lib/aimon (alert table)."
  exit 0
fi

if [ -z "$binary" ]; then
  ./scripts/install-deps.sh --build
  echo "== building aimon (release, Swift runtime linked statically: faster start-up, fewer libraries)"
  swift build -c release --static-swift-stdlib --scratch-path .build-static --product aimon
  binary=.build-static/release/aimon
fi
install -D -m 0755 "$binary" "$bin"
install -D -m 0644 systemd/aimon.service "$unit"
install -D -m 0644 systemd/aimon.catalog "$catalog"
if [ -e "$config" ]; then
  echo "kept the existing $config (the example is config/aimon.yaml)"
else
  install -D -m 0644 config/aimon.yaml "$config"
  echo "installed the example configuration: $config"
fi
# Secrets the unit hands to aimon as credentials (LoadCredential=): empty until the operator fills them.
credentials="$destdir/etc/aimon/credentials"
install -d -m 0700 "$credentials"
for secret in redis-password database-password; do
  [ -e "$credentials/$secret" ] || install -m 0600 /dev/null "$credentials/$secret"
done
if [ -z "$destdir" ] && command -v journalctl >/dev/null; then journalctl --update-catalog || true; fi
if $live; then systemctl daemon-reload; fi
"$bin" check-config --config "$config" >/dev/null 2>&1 || echo "note: $config does not check yet: edit its sources, then aimon check-config --config $config"
cat <<TEXT
aimon installed: $bin, $unit, $catalog, $credentials (secrets: see Docs/operations.md).
Next: point $config at the gateway's logs, then
  systemctl enable --now aimon
  journalctl -u aimon -p warning -f        # alerts as they happen
  aimon alerts --active                    # from the alert table
TEXT
