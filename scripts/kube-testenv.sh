#!/usr/bin/env bash
# kube-testenv.sh: a real etcd + kube-apiserver on 127.0.0.1 for hookflow's tests.
#
#   scripts/kube-testenv.sh build        build the binaries from the Go module proxy into the cache
#   scripts/kube-testenv.sh start DIR    start etcd and kube-apiserver with state in DIR; print DIR/kubeconfig
#                                        (DIR/kubectl is a kubectl built with them)
#   scripts/kube-testenv.sh stop DIR     stop what start DIR started
#
# The binaries are built, not downloaded: a scratch module requiring k8s.io/kubernetes,
# with every k8s.io staging module replaced by its published version, under
# $HOOKFLOW_KUBE_CACHE (default ~/.cache/hookflow-kube). A build is skipped when the
# binaries there were built for the same versions. There is no kubelet, so no pod ever
# runs; tests write the status of workloads themselves.
#
# Settings (environment):
#   KUBE_VERSION               Kubernetes version to build (default 1.37.2)
#   HOOKFLOW_KUBE_CACHE        cache folder (default ${XDG_CACHE_HOME:-~/.cache}/hookflow-kube)
#   HOOKFLOW_KUBE_CONTROLLERS  1 to also build kube-controller-manager (default 0)
#
# start and stop are idempotent: start on a DIR whose servers are running only prints the
# kubeconfig path; stop on a DIR with nothing running does nothing. Quiet on success.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-1.37.2}
CACHE=${HOOKFLOW_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hookflow-kube}
CONTROLLERS=${HOOKFLOW_KUBE_CONTROLLERS:-0}
SRC=$CACHE/src
BIN=$CACHE/bin
GO=${GO:-go}

die() {
	echo "kube-testenv: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 build | start DIR | stop DIR" >&2
	exit 2
}

# --- build -------------------------------------------------------------------------------

cmd_build() {
	command -v "$GO" >/dev/null || die "go is not on PATH"
	local staging="${KUBE_VERSION#1.}"
	staging="v0.$staging"
	local cmds=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)
	if [[ $CONTROLLERS == 1 ]]; then
		cmds+=(k8s.io/kubernetes/cmd/kube-controller-manager)
	fi

	# The pinned etcd version comes from kubernetes' own go.mod.
	local gomod
	gomod=$(cd / && GO111MODULE=on GOFLAGS='' "$GO" mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" |
		sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p') ||
		die "cannot download k8s.io/kubernetes@v$KUBE_VERSION from the module proxy"
	[[ -f $gomod ]] || die "no go.mod for k8s.io/kubernetes@v$KUBE_VERSION"
	local etcd_version
	etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$gomod")
	[[ -n $etcd_version ]] || die "k8s.io/kubernetes@v$KUBE_VERSION does not pin go.etcd.io/etcd/server/v3"

	local minor=${KUBE_VERSION#*.}
	minor=${minor%%.*}
	# Without these, /version says v0.0.0-master.
	local ldflags="-s -X k8s.io/component-base/version.gitVersion=v$KUBE_VERSION"
	ldflags+=" -X k8s.io/component-base/version.gitMajor=${KUBE_VERSION%%.*}"
	ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor"
	ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
	local goversion stamp
	goversion=$("$GO" env GOVERSION)
	stamp="kubernetes v$KUBE_VERSION etcd $etcd_version $goversion $ldflags"
	mkdir -p "$CACHE"
	# Two builds at once (two make test runs on a cold cache) take turns; the
	# second finds the first one's binaries.
	if command -v flock >/dev/null; then
		exec 9>"$CACHE/build.lock"
		flock 9
	fi
	if [[ -f $BIN/VERSION && $(cat "$BIN/VERSION") == "$stamp" ]] && all_binaries_exist; then
		return 0
	fi

	mkdir -p "$SRC" "$BIN"
	# Binaries of another version must not pass for this one's.
	rm -f "$BIN/VERSION" "$BIN/etcd" "$BIN/kube-apiserver" "$BIN/kubectl" "$BIN/kube-controller-manager"
	local edits=(-require="k8s.io/kubernetes@v$KUBE_VERSION")
	local mod
	# Staging modules are required as v0.0.0 and replaced by ./staging/... in the
	# kubernetes repository; as a dependency those replacements do not apply.
	while read -r mod; do
		case $mod in k8s.io/sample-*) continue ;; esac
		edits+=(-replace="$mod=$mod@$staging")
	done < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$gomod" | sort -u)
	(
		cd "$SRC"
		rm -f go.mod go.sum main.go
		export GOFLAGS=-mod=mod
		"$GO" mod init hookflow-kube-testenv >/dev/null 2>&1
		"$GO" mod edit "${edits[@]}"
		"$GO" get -tool "${cmds[@]}" "go.etcd.io/etcd/server/v3@$etcd_version" 2>build.log ||
			{ cat build.log >&2; die "go get failed (log above)"; }
		# One go build for all of them shares the compilation of their common packages.
		"$GO" build -trimpath -ldflags="$ldflags" -o "$BIN/" "${cmds[@]}" go.etcd.io/etcd/server/v3 2>build.log ||
			{ cat build.log >&2; die "go build failed (log above)"; }
	)
	# etcd's main package is go.etcd.io/etcd/server/v3, which go build names "server".
	mv -f "$BIN/server" "$BIN/etcd"
	echo "$stamp" >"$BIN/VERSION"
}

all_binaries_exist() {
	[[ -x $BIN/etcd && -x $BIN/kube-apiserver && -x $BIN/kubectl ]] || return 1
	[[ $CONTROLLERS != 1 || -x $BIN/kube-controller-manager ]]
}

# --- start / stop ----------------------------------------------------------------------------

# running FILE: whether the process whose id FILE holds is alive. A child that has exited
# but is not yet reaped (state Z) is not.
running() {
	[[ -f $1 ]] || return 1
	local stat
	stat=$(cat "/proc/$(cat "$1")/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# free_port: a port on 127.0.0.1 nothing listens on now. Start retries when a server
# loses the race for it.
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

# gen_certs DIR: a CA, the apiserver's serving certificate, an admin client certificate
# (group system:masters) and the service-account signing key pair.
gen_certs() {
	local pki=$1/pki
	[[ -f $pki/admin.crt ]] && return 0
	command -v openssl >/dev/null || die "openssl is not on PATH"
	mkdir -p "$pki"
	(
		cd "$pki"
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
			-subj "/CN=hookflow-testenv-ca" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
		cat >serving.ext <<-'EOF'
			basicConstraints=CA:FALSE
			keyUsage=critical,digitalSignature,keyEncipherment
			extendedKeyUsage=serverAuth
			subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1
		EOF
		cat >client.ext <<-'EOF'
			basicConstraints=CA:FALSE
			keyUsage=critical,digitalSignature,keyEncipherment
			extendedKeyUsage=clientAuth
		EOF
		openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver"
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
			-extfile serving.ext -out apiserver.crt
		openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
			-subj "/O=system:masters/CN=hookflow-admin"
		openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
			-extfile client.ext -out admin.crt
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
		openssl pkey -in sa.key -pubout -out sa.pub
	) >"$1/openssl.log" 2>&1 || { cat "$1/openssl.log" >&2; die "generating certificates failed (log above)"; }
}

# spawn NAME LOG PIDFILE CMD...: start CMD in its own session, detached from the caller.
spawn() {
	local name=$1 log=$2 pidfile=$3
	shift 3
	setsid "$@" </dev/null >"$log" 2>&1 &
	echo $! >"$pidfile"
}

# wait_ready NAME PIDFILE LOG SECONDS CHECK...: poll CHECK until it succeeds, failing
# early when the process exits.
wait_ready() {
	local name=$1 pidfile=$2 log=$3 secs=$4
	shift 4
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ! running "$pidfile"; then
			return 2
		fi
		if ((SECONDS >= deadline)); then
			echo "kube-testenv: $name was not ready after ${secs}s; last lines of $log:" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		sleep 0.2
	done
}

start_etcd() {
	local dir=$1 client peer rc
	for _ in 1 2 3; do
		client=$(free_port)
		peer=$(free_port)
		rm -rf "$dir/etcd"
		spawn etcd "$dir/etcd.log" "$dir/etcd.pid" "$BIN/etcd" \
			--name=hookflow-testenv --data-dir="$dir/etcd" \
			--listen-client-urls="http://127.0.0.1:$client" --advertise-client-urls="http://127.0.0.1:$client" \
			--listen-peer-urls="http://127.0.0.1:$peer" --initial-advertise-peer-urls="http://127.0.0.1:$peer" \
			--initial-cluster="hookflow-testenv=http://127.0.0.1:$peer" \
			--listen-metrics-urls="" --unsafe-no-fsync --quota-backend-bytes=1073741824 \
			--log-level=warn
		rc=0
		wait_ready etcd "$dir/etcd.pid" "$dir/etcd.log" 30 curl -fsS "http://127.0.0.1:$client/health" || rc=$?
		case $rc in
		0)
			echo "http://127.0.0.1:$client" >"$dir/etcd.url"
			return 0
			;;
		1) return 1 ;;
		esac
		# Exited: most likely a port taken between free_port and bind; try others.
	done
	echo "kube-testenv: etcd exited; last lines of $dir/etcd.log:" >&2
	tail -n 20 "$dir/etcd.log" >&2
	return 1
}

start_apiserver() {
	local dir=$1 pki=$1/pki port rc
	for _ in 1 2 3; do
		port=$(free_port)
		spawn kube-apiserver "$dir/kube-apiserver.log" "$dir/kube-apiserver.pid" "$BIN/kube-apiserver" \
			--etcd-servers="$(cat "$dir/etcd.url")" \
			--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$port" \
			--tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
			--client-ca-file="$pki/ca.crt" \
			--service-account-issuer=https://kubernetes.default.svc \
			--service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
			--service-cluster-ip-range=10.0.0.0/24 \
			--authorization-mode=RBAC \
			--endpoint-reconciler-type=none \
			--profiling=false
		rc=0
		wait_ready kube-apiserver "$dir/kube-apiserver.pid" "$dir/kube-apiserver.log" 90 \
			curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
			"https://127.0.0.1:$port/readyz" || rc=$?
		case $rc in
		0)
			echo "https://127.0.0.1:$port" >"$dir/apiserver.url"
			return 0
			;;
		1) return 1 ;;
		esac
	done
	echo "kube-testenv: kube-apiserver exited; last lines of $dir/kube-apiserver.log:" >&2
	tail -n 20 "$dir/kube-apiserver.log" >&2
	return 1
}

write_kubeconfig() {
	local dir=$1 pki=$1/pki
	umask 077
	cat >"$dir/kubeconfig.tmp" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: hookflow-testenv
		  cluster:
		    server: $(cat "$dir/apiserver.url")
		    certificate-authority: $pki/ca.crt
		users:
		- name: hookflow-admin
		  user:
		    client-certificate: $pki/admin.crt
		    client-key: $pki/admin.key
		contexts:
		- name: hookflow-testenv
		  context:
		    cluster: hookflow-testenv
		    user: hookflow-admin
		current-context: hookflow-testenv
	EOF
	mv "$dir/kubeconfig.tmp" "$dir/kubeconfig"
}

cmd_start() {
	[[ $# == 1 && -n $1 ]] || usage
	command -v curl >/dev/null || die "curl is not on PATH"
	mkdir -p "$1"
	local dir
	dir=$(cd "$1" && pwd)
	if running "$dir/etcd.pid" && running "$dir/kube-apiserver.pid" && [[ -f $dir/kubeconfig ]]; then
		ln -sf "$BIN/kubectl" "$dir/kubectl"
		echo "$dir/kubeconfig"
		return 0
	fi
	all_binaries_exist ||
		die "no binaries in $BIN: run $0 build first"
	cmd_stop "$dir"
	gen_certs "$dir"
	if ! start_etcd "$dir" || ! start_apiserver "$dir"; then
		cmd_stop "$dir"
		die "start failed; logs are in $dir"
	fi
	write_kubeconfig "$dir"
	# Tests that check hookflow against kubectl find it beside the kubeconfig.
	ln -sf "$BIN/kubectl" "$dir/kubectl"
	echo "$dir/kubeconfig"
}

# stop_one PIDFILE: SIGTERM the process group, SIGKILL it after 10s.
stop_one() {
	local pidfile=$1 pid
	[[ -f $pidfile ]] || return 0
	pid=$(cat "$pidfile")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
}

cmd_stop() {
	[[ $# == 1 && -n $1 ]] || usage
	[[ -d $1 ]] || return 0
	stop_one "$1/kube-apiserver.pid"
	stop_one "$1/etcd.pid"
	rm -f "$1/kubeconfig" "$1/kubectl"
}

case ${1:-} in
build)
	[[ $# == 1 ]] || usage
	cmd_build
	;;
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
