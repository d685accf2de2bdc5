#!/usr/bin/env bash
# Installs what the web UI's browser tests need: Debian's Chromium at
# /usr/bin/chromium (the tests drive it headless over the DevTools protocol,
# with github.com/chromedp/chromedp), and a font with wide coverage for the
# screenshots.
#
# Idempotent: it does nothing when Chromium is installed already. The tests fail
# (they never skip) when it is missing, and name this script.
#
#   make test runs it first; by hand:  scripts/setup-ui.sh
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "Chromium is not installed; run: sudo apt-get install -y chromium fonts-dejavu-core" >&2
	exit 1
fi
echo "installing Chromium from Debian" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >&2
/usr/bin/chromium --version >&2
