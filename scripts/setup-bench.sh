#!/usr/bin/env bash
# Installs what make bench needs beside the test servers: wrk, Debian's HTTP
# load generator, which internal/benchtab drives.
#
# Idempotent and quiet: it prints nothing when wrk is there already.
set -euo pipefail

if ! command -v wrk >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "wrk is not installed; run: sudo apt-get install -y wrk" >&2
		exit 1
	fi
	echo "installing wrk from Debian" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2
fi
