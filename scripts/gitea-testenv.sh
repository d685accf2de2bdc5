#!/usr/bin/env bash
# gitea-testenv.sh: a real Gitea on 127.0.0.1 for hookflow's tests of reporting back.
#
#   scripts/gitea-testenv.sh build        build gitea from the Go module proxy into the cache
#   scripts/gitea-testenv.sh start DIR    start it with state in DIR; print DIR, which then holds
#                                         url, token (an admin's API token), user and password
#   scripts/gitea-testenv.sh stop DIR     stop what start DIR started
#
# The binary is built, not downloaded: code.gitea.io/gitea's source from the module proxy,
# built with SQLite (cgo) under $HOOKFLOW_GITEA_CACHE (default ~/.cache/hookflow-gitea); a
# build is skipped when the binary there was built for the same version and Go. Without
# the bindata tag the templates are read from that source, which the module cache keeps.
# A cold build takes about 9 minutes on 2 cores (12 s when Go's build cache has it); a
# start about 3 to 7 seconds, most of it Gitea creating its tables.
#
# Settings (environment):
#   GITEA_VERSION         Gitea version to build (default 1.26.0)
#   HOOKFLOW_GITEA_CACHE  cache folder (default ${XDG_CACHE_HOME:-~/.cache}/hookflow-gitea)
#
# start and stop are idempotent. Quiet on success.
set -euo pipefail

GITEA_VERSION=${GITEA_VERSION:-1.26.0}
CACHE=${HOOKFLOW_GITEA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hookflow-gitea}
BIN=$CACHE/bin
GO=${GO:-go}
TAGS="sqlite sqlite_unlock_notify"

die() {
	echo "gitea-testenv: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 build | start DIR | stop DIR" >&2
	exit 2
}

# source_dir: where the module cache keeps Gitea's source (downloading it if need be).
source_dir() {
	(cd / && GO111MODULE=on GOFLAGS='' "$GO" mod download -json "code.gitea.io/gitea@v$GITEA_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') ||
		die "cannot download code.gitea.io/gitea@v$GITEA_VERSION from the module proxy"
}

cmd_build() {
	command -v "$GO" >/dev/null || die "go is not on PATH"
	command -v gcc >/dev/null || die "gcc is not on PATH (Gitea's SQLite needs cgo)"
	local src stamp
	src=$(source_dir)
	[[ -d $src ]] || die "no source for code.gitea.io/gitea@v$GITEA_VERSION"
	stamp="gitea $GITEA_VERSION $("$GO" env GOVERSION) $TAGS"
	mkdir -p "$BIN"
	if command -v flock >/dev/null; then
		exec 9>"$CACHE/build.lock"
		flock 9
	fi
	if [[ -x $BIN/gitea && -f $BIN/VERSION && $(cat "$BIN/VERSION") == "$stamp" ]]; then
		return 0
	fi
	rm -f "$BIN/VERSION" "$BIN/gitea"
	# The module cache is read-only, which -mod=readonly respects; hookflow's
	# own GOFLAGS (build tags) must not reach this build.
	(cd "$src" && GOFLAGS=-mod=readonly CGO_ENABLED=1 "$GO" build -trimpath -tags "$TAGS" \
		-ldflags "-s -X main.Version=$GITEA_VERSION" -o "$BIN/gitea" . 2>"$CACHE/build.log") ||
		{ cat "$CACHE/build.log" >&2; die "go build failed (log above)"; }
	echo "$stamp" >"$BIN/VERSION"
}

# running FILE: whether the process whose id FILE holds is alive (not a zombie).
running() {
	[[ -f $1 ]] || return 1
	local stat
	stat=$(cat "/proc/$(cat "$1")/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

free_port() {
	local port
	for _ in $(seq 50); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	die "no free port found on 127.0.0.1"
}

# gitea ARGS...: the binary with DIR's configuration, as whoever runs the tests (root
# on CI machines, which Gitea refuses unless told).
gitea() {
	GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true GITEA_WORK_DIR="$DIR" "$BIN/gitea" --config "$DIR/app.ini" "$@"
}

write_config() {
	local port=$1 src
	src=$(source_dir)
	umask 077
	cat >"$DIR/app.ini" <<-EOF
		APP_NAME = hookflow test Gitea
		RUN_MODE = prod
		RUN_USER = $(id -un)
		WORK_PATH = $DIR
		I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true

		[server]
		PROTOCOL = http
		HTTP_ADDR = 127.0.0.1
		HTTP_PORT = $port
		ROOT_URL = http://127.0.0.1:$port/
		DISABLE_SSH = true
		START_SSH_SERVER = false
		LFS_START_SERVER = false
		STATIC_ROOT_PATH = $src
		APP_DATA_PATH = $DIR/data

		[database]
		DB_TYPE = sqlite3
		PATH = $DIR/gitea.db

		[repository]
		ROOT = $DIR/repos

		[security]
		INSTALL_LOCK = true
		SECRET_KEY = $(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
		INTERNAL_TOKEN = $("$BIN/gitea" generate secret INTERNAL_TOKEN 2>/dev/null)

		[oauth2]
		JWT_SECRET = $("$BIN/gitea" generate secret JWT_SECRET 2>/dev/null)

		[service]
		DISABLE_REGISTRATION = true

		[webhook]
		; Deliveries to hookflow on 127.0.0.1, which Gitea refuses by default.
		ALLOWED_HOST_LIST = loopback
		DELIVER_TIMEOUT = 10

		[queue]
		; In memory: nothing to keep, and deliveries go out sooner.
		TYPE = channel

		[mailer]
		ENABLED = false

		[indexer]
		ISSUE_INDEXER_TYPE = db
		REPO_INDEXER_ENABLED = false

		[session]
		PROVIDER = memory

		[cron]
		ENABLED = false

		[cron.update_checker]
		; It would ask dl.gitea.com for news.
		ENABLED = false

		[log]
		MODE = file
		LEVEL = Warn
		ROOT_PATH = $DIR/log
	EOF
}

cmd_start() {
	[[ $# == 1 && -n $1 ]] || usage
	command -v curl >/dev/null || die "curl is not on PATH"
	command -v git >/dev/null || die "git is not on PATH (Gitea needs it)"
	mkdir -p "$1"
	DIR=$(cd "$1" && pwd)
	if running "$DIR/gitea.pid" && [[ -f $DIR/token ]]; then
		echo "$DIR"
		return 0
	fi
	[[ -x $BIN/gitea ]] || die "no binary in $BIN: run $0 build first"
	cmd_stop "$DIR"
	local port ok=
	for _ in 1 2 3; do
		port=$(free_port)
		write_config "$port"
		# A simple command in the background, so that $! is Gitea itself (setsid
		# execs it in a session of its own, which stop kills whole).
		GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true GITEA_WORK_DIR="$DIR" \
			setsid "$BIN/gitea" --config "$DIR/app.ini" web </dev/null >"$DIR/gitea.log" 2>&1 &
		echo $! >"$DIR/gitea.pid"
		for _ in $(seq 300); do
			if curl -fsS "http://127.0.0.1:$port/api/v1/version" >/dev/null 2>&1; then
				ok=1
				break
			fi
			running "$DIR/gitea.pid" || break
			sleep 0.2
		done
		[[ -n $ok ]] && break
		cmd_stop "$DIR"
	done
	if [[ -z $ok ]]; then
		echo "gitea-testenv: gitea did not start; last lines of $DIR/gitea.log:" >&2
		tail -n 20 "$DIR/gitea.log" >&2
		die "start failed; logs are in $DIR"
	fi
	local password
	password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
	gitea admin user create --admin --username hookflow --password "$password" \
		--email hookflow@example.test --must-change-password=false >"$DIR/admin.log" 2>&1 ||
		{ cat "$DIR/admin.log" >&2; die "creating the admin user failed"; }
	umask 077
	# The token is the last line: Gitea warns about root on standard output.
	gitea admin user generate-access-token --username hookflow --token-name tests --scopes all --raw \
		2>"$DIR/admin.log" | tail -n 1 >"$DIR/token" ||
		{ cat "$DIR/admin.log" >&2; die "creating the API token failed"; }
	grep -qE '^[0-9a-f]{40}$' "$DIR/token" || die "no API token came out (see $DIR/admin.log)"
	echo "http://127.0.0.1:$port" >"$DIR/url"
	echo hookflow >"$DIR/user"
	echo "$password" >"$DIR/password"
	echo "$DIR"
}

cmd_stop() {
	[[ $# == 1 && -n $1 ]] || usage
	local dir pid
	dir=$(cd "$1" 2>/dev/null && pwd) || return 0
	[[ -f $dir/gitea.pid ]] || return 0
	pid=$(cat "$dir/gitea.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$dir/gitea.pid"
}

case ${1:-} in
build) cmd_build ;;
start)
	shift
	cmd_start "$@"
	;;
stop)
	shift
	cmd_stop "$@"
	;;
*) usage ;;
esac
