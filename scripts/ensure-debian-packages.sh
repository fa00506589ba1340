#!/usr/bin/env bash
# Make sure tools the tests and the benchmark run are installed, from Debian's packages.
#   scripts/ensure-debian-packages.sh /usr/bin/chromium=chromium /usr/bin/chromedriver=chromium-driver
# Each argument is COMMAND=PACKAGE: the package is installed when the command is missing (needs
# root or sudo, and apt-get). Nothing else is ever downloaded by the tests. `make test` needs
# chromium, chromium-driver, haproxy and pgbouncer. A package that ships a service (haproxy,
# pgbouncer on 6432) may start it; the tests never use it: they start their own, on free ports
# with their own configuration (tests/deploy/test_replicas.py, tests/pgbouncer.py).
set -euo pipefail

missing=()
for pair in "$@"; do
  command -v "${pair%%=*}" >/dev/null || [ -x "/usr/sbin/${pair%%=*}" ] || missing+=("${pair#*=}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "Missing ${missing[*]} and apt-get is not available: install them by hand." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "Installing ${missing[*]} needs root (or sudo)." >&2; exit 1; }
  SUDO="sudo -n"
fi
echo "Installing ${missing[*]}..."
export DEBIAN_FRONTEND=noninteractive
apt=($SUDO apt-get -y -q -o DPkg::Lock::Timeout=300)
if ! "${apt[@]}" install "${missing[@]}" >/dev/null 2>&1; then
  "${apt[@]}" update >/dev/null
  "${apt[@]}" install "${missing[@]}" >/dev/null
fi
for pair in "$@"; do
  command -v "${pair%%=*}" >/dev/null || [ -x "/usr/sbin/${pair%%=*}" ] || {
    echo "${pair%%=*} is still missing after installing ${pair#*=}." >&2
    exit 1
  }
done
