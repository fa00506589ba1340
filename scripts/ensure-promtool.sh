#!/usr/bin/env bash
# Print the path of a promtool (Prometheus's rule checker), fetching it on first use;
# `ensure-promtool.sh prometheus` prints the Prometheus server's instead.
#
# promtool comes in Debian's `prometheus` package. Rather than install the server, download
# the package and extract only /usr/bin/promtool (or /usr/bin/prometheus) into
# .cache/promtool/ (git-ignored); later calls reuse it. PROMTOOL=/path/to/promtool uses that
# one instead. Used by tests/deploy/test_prometheus.py (the server by test_scrape.py); exits
# non-zero with a reason when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
program="${1:-promtool}"
case "$program" in
  promtool | prometheus) ;;
  *) echo "usage: $0 [promtool|prometheus]" >&2; exit 2 ;;
esac

if [ "$program" = promtool ] && [ -n "${PROMTOOL:-}" ]; then
  echo "$PROMTOOL"
  exit 0
fi

target="$PWD/.cache/promtool/$program"
if [ -x "$target" ]; then
  echo "$target"
  exit 0
fi

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
  { echo "promtool: apt-get and dpkg-deb are needed to fetch Debian's prometheus package." >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# As root apt runs downloads as user _apt, who cannot write to our temporary folder.
download() { (cd "$work" && apt-get download -q -o APT::Sandbox::User=root prometheus) >&2; }
if ! download; then
  # The package lists may never have been fetched on a new machine.
  apt-get update -qq >&2 && download ||
    { echo "promtool: could not download Debian's prometheus package." >&2; exit 1; }
fi

dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" "./usr/bin/$program"
mkdir -p "$(dirname "$target")"
mv "$work/usr/bin/$program" "$target.partial"
mv "$target.partial" "$target"
echo "$target"
