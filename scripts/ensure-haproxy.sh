#!/usr/bin/env bash
# Make sure HAProxy is installed: the several-replicas test puts it in front of the service.
# Installs Debian's `haproxy` package when it is missing (needs root or sudo, and apt-get). The
# test runs its own haproxy on loopback with a generated config, not the system service.
set -euo pipefail

if command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "haproxy is not installed and apt-get is not available: install HAProxy 2.x." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "Installing haproxy needs root (or sudo)." >&2; exit 1; }
  SUDO="sudo -n"
fi
echo "Installing haproxy..."
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q haproxy >/dev/null 2>&1; then
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q haproxy >/dev/null
fi
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || {
  echo "haproxy is still missing after apt-get install." >&2
  exit 1
}
