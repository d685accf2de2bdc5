#!/usr/bin/env bash
# Starts a PostgreSQL server for hookflow's tests and benchmarks, and prints
# its DSN on stdout (everything else goes to stderr).
#
# Idempotent: it installs PostgreSQL from Debian when it is missing, creates
# the cluster once, starts the server unless it already runs, creates the
# database once, and writes the DSN to $HOOKFLOW_PG_STATE/dsn. Safe to run
# again while the server runs, and by several shells at once (it holds a lock).
#
# The server listens on 127.0.0.1 only, on $HOOKFLOW_PG_PORT (default 55432),
# with password authentication; its superuser is "hookflow", which the tests
# use to create a fresh database per test. initdb refuses to run as root, so
# root runs the server as the postgres user, with the cluster under /var/tmp
# (the postgres user cannot enter /root).
#
#   make test uses it as:  HOOKFLOW_TEST_POSTGRES=$(scripts/setup-postgres.sh)
#   stop the server with:  scripts/setup-postgres.sh stop
set -euo pipefail

port=${HOOKFLOW_PG_PORT:-55432}
state=${HOOKFLOW_PG_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/hookflow-pg}
if [ "$(id -u)" = 0 ]; then
	cluster=${HOOKFLOW_PG_CLUSTER:-/var/tmp/hookflow-pg-$port}
	as_server() { runuser -u postgres -- "$@"; }
	server_user=postgres
else
	cluster=${HOOKFLOW_PG_CLUSTER:-$state/cluster-$port}
	as_server() { "$@"; }
	server_user=$(id -un)
fi
data=$cluster/data
sockets=$cluster/sockets
log() { echo "setup-postgres: $*" >&2; }

mkdir -p "$state"
chmod 700 "$state"
exec 9>"$state/lock"
flock 9

# The server binaries: Debian keeps them out of PATH, one folder per version.
find_bin() { printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }
bin=$(find_bin)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
	if [ "$(id -u)" != 0 ]; then
		log "PostgreSQL is not installed; run: sudo apt-get install -y postgresql"
		exit 1
	fi
	log "installing PostgreSQL from Debian"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
	bin=$(find_bin)
fi

if [ "${1:-}" = stop ]; then
	if [ -f "$data/PG_VERSION" ]; then
		as_server "$bin/pg_ctl" -D "$data" -m fast stop >&2 || true
	fi
	exit 0
fi

password_file=$state/password
new_password=
if [ ! -s "$password_file" ]; then
	(umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$password_file")
	new_password=1
fi
password=$(cat "$password_file")

if [ ! -f "$data/PG_VERSION" ]; then
	log "creating a cluster in $data"
	rm -rf "$data" "$sockets"
	mkdir -p "$data" "$sockets"
	chmod 700 "$cluster" "$data"
	pwfile=$cluster/pwfile
	(umask 077 && printf '%s\n' "$password" >"$pwfile")
	chown -R "$server_user" "$cluster"
	as_server "$bin/initdb" -D "$data" --username=hookflow --pwfile="$pwfile" \
		--auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >&2
	rm -f "$pwfile"
	# Three test nodes with their pools, and the tests' own connections.
	cat >>"$data/postgresql.conf" <<-EOF
		listen_addresses = '127.0.0.1'
		port = $port
		unix_socket_directories = '$sockets'
		max_connections = 300
	EOF
fi

if ! as_server "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
	log "starting PostgreSQL on 127.0.0.1:$port"
	# 9>&-: the server must not inherit the lock, or it would hold it forever.
	as_server "$bin/pg_ctl" -D "$data" -l "$cluster/server.log" -w -t 60 start >&2 9>&- || {
		tail -n 20 "$cluster/server.log" >&2 || true
		exit 1
	}
fi

psql_admin() { as_server "$bin/psql" -h "$sockets" -p "$port" -U hookflow -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ -n "$new_password" ]; then # the cluster outlived the file that held its password
	psql_admin -c "ALTER ROLE hookflow PASSWORD '$password'" >&2
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'hookflow'")" != 1 ]; then
	psql_admin -c "CREATE DATABASE hookflow" >&2
fi

dsn="postgres://hookflow:$password@127.0.0.1:$port/hookflow?sslmode=disable"
(umask 077 && printf '%s\n' "$dsn" >"$state/dsn")
printf '%s\n' "$dsn"
