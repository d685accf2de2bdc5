#!/usr/bin/env bash
# Installs what the sandbox's tests need: Debian's bubblewrap, with which the
# `isolated` level runs steps, and checks that it can make a sandbox here
# (user, PID and network namespaces).
#
# Idempotent and quiet: it prints nothing when bubblewrap works already. The
# tests fail (they never skip) when it is missing, and name this script.
#
#   make test runs it first; by hand:  scripts/setup-sandbox.sh
#   what hookflow itself makes of the machine:  hookflow doctor
set -euo pipefail

if ! command -v bwrap >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "bubblewrap is not installed; run: sudo apt-get install -y bubblewrap" >&2
		exit 1
	fi
	echo "installing bubblewrap from Debian" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >&2
fi

# The sandbox a step gets, in short. Failing here means that the kernel or its
# settings refuse unprivileged user namespaces; hookflow doctor says more.
if ! out=$(bwrap --unshare-user --unshare-pid --unshare-ipc --unshare-uts --unshare-net --die-with-parent \
	--cap-drop ALL --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp -- true 2>&1); then
	echo "bubblewrap is installed but cannot make a sandbox here: $out" >&2
	exit 1
fi
