#!/usr/bin/env bash
# Make sure headless Chromium and its driver are installed for the browser tests
# (tests/dashboard/test_browser.py). Installs Debian's `chromium` and `chromium-driver` when
# /usr/bin/chromium or /usr/bin/chromedriver is missing (needs root or sudo, and apt-get);
# the tests themselves never download a browser or a driver.
set -euo pipefail

installed() { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }

if installed; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "chromium and chromedriver are not installed and apt-get is not available:" \
    "install them as /usr/bin/chromium and /usr/bin/chromedriver." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "Installing chromium needs root (or sudo)." >&2; exit 1; }
  SUDO="sudo -n"
fi
echo "Installing chromium and chromium-driver..."
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; then
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q chromium chromium-driver >/dev/null
fi
installed || { echo "chromium or chromedriver is still missing after apt-get install." >&2; exit 1; }
