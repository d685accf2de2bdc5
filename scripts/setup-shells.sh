#!/usr/bin/env bash
# Installs the shells whose completion scripts the tests parse: zsh and fish
# (bash is there already). `hookflow completion zsh|fish` prints them; the
# test runs `zsh -n` and `fish -n` on them, and fails, naming this script,
# when a shell is missing.
#
# Idempotent: it does nothing when both are installed.
#
#   make deps runs it; by hand:  scripts/setup-shells.sh
set -euo pipefail

if command -v zsh >/dev/null && command -v fish >/dev/null; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "zsh or fish is not installed; run: sudo apt-get install -y zsh fish" >&2
	exit 1
fi
echo "installing zsh and fish from Debian" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends zsh fish >&2
