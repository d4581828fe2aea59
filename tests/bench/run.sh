#!/bin/bash
# Measures the ES256 Sign rate of hsmjwtd end to end (h2load over gRPC) and
# compares it with the raw signing rate of the same SoftHSM key (p11bench).
#
# usage: tests/bench/run.sh
#
# It builds a release tree in build-bench/ and creates a SoftHSM token in a
# temporary folder. It starts hsmjwtd on free loopback ports with one ES256
# profile, then prints a table of rates with the CPU time that each process
# used during each run. Everything runs on 127.0.0.1.
#
# Environment:
#   BENCH_SECONDS   length of each p11bench run in seconds (default 5)
#   BENCH_REQUESTS  requests in each h2load run (default 40000)
#   BENCH_ROUNDS    rounds of raw and daemon runs (default 3). The rate of
#                   the machine drifts, so each round compares the daemon
#                   with a raw run made just before it.
#   BENCH_PERF      1: profile the daemon with perf during one extra run
#                   (default 1 when perf is installed)
#   HSMJWTD         a daemon binary to measure in place of build-bench's
#                   (then only p11bench is built)
#
# Exit status: 0 when every run completed and every request was a gRPC
# success, 1 otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build-bench
BENCH_SECONDS=${BENCH_SECONDS:-5}
BENCH_REQUESTS=${BENCH_REQUESTS:-40000}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
# Seconds for one h2load run. It bounds the whole script to about 5 minutes.
# At the default count, a daemon below 2,000 requests/s fails the run.
H2LOAD_TIMEOUT=20
TOKEN_LABEL=hsmjwt-bench
ISSUER=https://hsmjwt-bench.invalid
KEY_LABEL_PREFIX=hsmjwt:ES256
SETTINGS="1x1 16x1 4x16"   # connections x streams per connection
CLK_TCK=$(getconf CLK_TCK)
# Runs during which other processes used more than this, in % of one core,
# are left out of the summary. Tick sampling alone moves "other" by about 10.
OTHER_MAX=15

WORK=""
DAEMON_PID=""
ROUND=0
FAILED=0

case $BENCH_SECONDS$BENCH_REQUESTS$BENCH_ROUNDS in
*[!0-9]*) printf 'run.sh: BENCH_SECONDS, BENCH_REQUESTS and BENCH_ROUNDS take whole numbers\n' >&2
	exit 1 ;;
esac

log() {
	printf 'run.sh: %s\n' "$*" >&2
}

die() {
	log "$*"
	exit 1
}

cleanup() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		timeout 15 tail --pid="$DAEMON_PID" -f /dev/null || kill -KILL "$DAEMON_PID"
	fi
	if [ -n "$WORK" ]; then
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

require_tools() {
	local tool
	for tool in meson ninja node npm python3 softhsm2-util; do
		command -v "$tool" >/dev/null ||
			die "$tool not found; install it (tests/run.sh lists the packages)"
	done
	if ! command -v h2load >/dev/null; then
		[ "$(id -u)" = 0 ] ||
			die "h2load not found; install nghttp2-client as root"
		log "installing nghttp2-client for h2load"
		apt-get install -y nghttp2-client >/dev/null ||
			{ apt-get update >/dev/null && apt-get install -y nghttp2-client >/dev/null; } ||
			die "apt-get install nghttp2-client failed"
	fi
}

build() {
	if [ -f "$BUILD/build.ninja" ]; then
		meson configure "$BUILD" -Dbuildtype=release >/dev/null
	else
		meson setup "$BUILD" "$ROOT" -Dbuildtype=release >/dev/null
	fi
	if [ -n "${HSMJWTD:-}" ]; then
		ninja -C "$BUILD" tests/bench/p11bench >/dev/null ||
			die "build failed; run ninja -C $BUILD tests/bench/p11bench for the errors"
	else
		ninja -C "$BUILD" src/daemon/hsmjwtd tests/bench/p11bench >/dev/null ||
			die "build failed; run ninja -C $BUILD for the errors"
		HSMJWTD=$BUILD/src/daemon/hsmjwtd
	fi
	[ -x "$HSMJWTD" ] || die "hsmjwtd not found or not executable at $HSMJWTD"
	if [ ! -d "$ROOT/tests/interop/node_modules" ]; then
		(cd "$ROOT/tests/interop" && npm ci --no-audit --no-fund >/dev/null) ||
			die "npm ci in tests/interop failed"
	fi
}

print_machine() {
	printf 'nproc: %s\n' "$(nproc)"
	printf 'cpu: %s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	printf 'softhsm: %s\n' "$(softhsm2-util --version)"
	printf 'grpc: %s (core library %s)\n' \
		"$(dpkg-query -W -f '${Version}' libgrpc-dev 2>/dev/null || echo unknown)" \
		"$(pkg-config --modversion grpc 2>/dev/null || echo unknown)"
	printf 'h2load: %s\n' "$(h2load --version | head -1)"
	printf 'hsmjwtd: %s\n' "$HSMJWTD"
}

# Prints a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

make_token() {
	mkdir "$WORK/tokens"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$WORK" >"$WORK/softhsm2.conf"
	export SOFTHSM2_CONF=$WORK/softhsm2.conf
	HSMJWT_PIN=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	export HSMJWT_PIN
	softhsm2-util --init-token --free --label "$TOKEN_LABEL" \
		--pin "$HSMJWT_PIN" --so-pin "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" >/dev/null
}

start_daemon() {
	cat >"$WORK/hsmjwtd.yaml" <<-EOF
	issuer: $ISSUER
	listen:
	  grpc: $GRPC_ADDR
	  http: $HTTP_ADDR
	hsm:
	  module: /usr/lib/softhsm/libsofthsm2.so
	  token: $TOKEN_LABEL
	  pin_env: HSMJWT_PIN
	  generate_missing_keys: true
	profiles:
	  - name: default
	    alg: ES256
	    ttl: 5m
	    max_ttl: 1h
	EOF
	"$HSMJWTD" --config "$WORK/hsmjwtd.yaml" 2>"$WORK/daemon.log" &
	DAEMON_PID=$!
	if ! node "$ROOT/tests/interop/client.mjs" ready --grpc "$GRPC_ADDR" \
		--http "$HTTP_ADDR" --timeout 60; then
		tail -20 "$WORK/daemon.log" >&2
		die "hsmjwtd did not become ready"
	fi
	node "$ROOT/tests/interop/client.mjs" sign-verify --grpc "$GRPC_ADDR" \
		--http "$HTTP_ADDR" --issuer "$ISSUER" --alg ES256 ||
		die "a token from hsmjwtd did not verify"
}

# Sends SIGTERM and expects exit status 0 within 15 seconds.
stop_daemon() {
	local rc=0

	kill -TERM "$DAEMON_PID"
	if ! timeout 15 tail --pid="$DAEMON_PID" -f /dev/null; then
		log "hsmjwtd did not exit within 15 s of SIGTERM"
		FAILED=1
		return
	fi
	wait "$DAEMON_PID" || rc=$?
	DAEMON_PID=""
	if [ "$rc" != 0 ]; then
		log "hsmjwtd exited with status $rc after SIGTERM, expected 0"
		FAILED=1
	fi
}

# Writes a gRPC-framed SignRequest for the default profile: a 5-byte prefix
# (flag 0, then the big-endian length) and the protobuf bytes.
write_sign_request() {
	python3 - "$1" <<-'EOF'
	import struct, sys
	claims = b'{"sub":"bench","scope":"read"}'
	# field 2 (claims_json), wire type 2; the length fits one varint byte
	message = bytes([(2 << 3) | 2, len(claims)]) + claims
	with open(sys.argv[1], "wb") as f:
	    f.write(struct.pack(">BI", 0, len(message)) + message)
	EOF
}

# Prints the number of Sign lines with status=OK in the daemon log.
count_sign_ok() {
	awk '/method=[^ ]*Sign( |$)/ && / status=OK( |$)/ { n++ } END { print n + 0 }' \
		"$WORK/daemon.log"
}

# Prints the user plus system CPU ticks of a process.
process_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# Prints "busy total softirq" ticks summed over all CPUs, where busy is
# every state but idle and iowait.
system_ticks() {
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t, $8 }' /proc/stat
}

# Prints "busy softirq" between two system_ticks lines ($1, $2), both in
# percent of one core, so that 2 busy cores are 200.
system_share() {
	printf '%s\n%s\n' "$1" "$2" | awk -v cpus="$(nproc)" '
		NR == 1 { b = $1; t = $2; q = $3 }
		NR == 2 { printf "%.1f %.1f\n", 100 * cpus * ($1 - b) / ($2 - t),
		    100 * cpus * ($3 - q) / ($2 - t) }'
}

# Prints "tid comm ticks" for each thread of a process.
thread_ticks() {
	local task
	for task in /proc/"$1"/task/*; do
		printf '%s %s %s\n' "${task##*/}" "$(tr ' ' '_' <"$task/comm")" \
			"$(sed 's/^.*) //' "$task/stat" | awk '{ print $12 + $13 }')"
	done 2>/dev/null
}

# Prints the threads that used the most CPU between two thread_ticks files
# ($1, $2) as comm/tid:percent, in percent of one core over $3 seconds.
thread_split() {
	awk -v secs="$3" -v hz="$CLK_TCK" '
		NR == FNR { before[$1] = $3; next }
		{ d = $3 - before[$1]
		  if (d > 0) printf "%s/%s:%.0f%%\n", $2, $1, 100 * d / hz / secs }' \
		"$1" "$2" | sort -t: -k2 -rn | head -8 | tr '\n' ' '
}

# Appends a row to $WORK/rows: round, tag, rate and mean latency. Then come
# the CPU of the measured process, h2load, softirq, all other work and the
# whole machine, each in percent of one core. The last field is the CPU time
# per signature of p11bench in microseconds. A "-" marks a value that the
# run does not have. Softirq time is part of a process's CPU when it ran in
# that process's context, so "other" is the busy time less the processes.
row_add() {
	printf '%s %s %s %s %s %s %s %s %s %s\n' "$ROUND" "$@" >>"$WORK/rows"
}

# Runs p11bench with $1 threads and adds its row.
run_p11bench() {
	local threads=$1 out=$WORK/p11bench-$ROUND-$1.txt sys_before sys_after
	local rate us_per_sig busy softirq p11_cpu

	sys_before=$(system_ticks)
	"$BUILD/tests/bench/p11bench" -t "$TOKEN_LABEL" -l "$KEY_LABEL_PREFIX" \
		-d "$BENCH_SECONDS" "$threads" >"$out" || die "p11bench failed"
	sys_after=$(system_ticks)
	sed -n "s/^threads=/round $ROUND, p11bench: threads=/p" "$out"

	rate=$(sed -n 's/^threads=.* rate=\([0-9.]*\) .*/\1/p' "$out")
	us_per_sig=$(sed -n 's/^threads=.* cpu_us_per_sig=\([0-9.]*\)$/\1/p' "$out")
	if [ -z "$rate" ] || [ -z "$us_per_sig" ]; then
		die "p11bench printed no rate; its output is in $out"
	fi
	read -r busy softirq <<<"$(system_share "$sys_before" "$sys_after")"
	p11_cpu=$(awk -v r="$rate" -v us="$us_per_sig" 'BEGIN { print r * us / 1e4 }')
	row_add "raw$threads" "$rate" - "$p11_cpu" - "$softirq" \
		"$(awk -v b="$busy" -v p="$p11_cpu" 'BEGIN { print b - p }')" \
		"$busy" "$us_per_sig"
}

# Runs h2load with $1 connections and $2 streams each and checks the result
# against the daemon log. Adds its row unless h2load failed.
run_h2load() {
	local c=$1 m=$2 tag=$1x$2 out=$WORK/h2load-$1x$2.txt rc=0
	local ok_before ok_after d_before d_after sys_before sys_after start secs

	ok_before=$(count_sign_ok)
	d_before=$(process_ticks "$DAEMON_PID")
	thread_ticks "$DAEMON_PID" >"$WORK/threads-before"
	sys_before=$(system_ticks)
	start=$EPOCHREALTIME

	(
		timeout "$H2LOAD_TIMEOUT" h2load -n "$BENCH_REQUESTS" -c "$c" -m "$m" \
			-d "$WORK/sign.bin" -H 'content-type: application/grpc' \
			-H 'te: trailers' "http://$GRPC_ADDR/hsmjwt.v1.TokenService/Sign" \
			>"$out" 2>&1 || exit $?
		# A pipe would run times in a child that lacks these children.
		times >"$WORK/h2load-times"
	) || rc=$?

	secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
	sys_after=$(system_ticks)
	d_after=$(process_ticks "$DAEMON_PID")
	thread_ticks "$DAEMON_PID" >"$WORK/threads-after"
	sleep 1   # a request's log line may be written after its response
	ok_after=$(count_sign_ok)

	if [ "$rc" != 0 ]; then
		log "round $ROUND, h2load $tag failed (exit $rc, 124 is the $H2LOAD_TIMEOUT s timeout):"
		tail -5 "$out" >&2
		FAILED=1
		return
	fi
	h2load_check "$tag" "$out" "$((ok_after - ok_before))"
	h2load_row "$tag" "$out" "$secs" "$((d_after - d_before))" \
		"$(system_share "$sys_before" "$sys_after")"
	printf 'round %s, run %s: daemon threads: %s\n' "$ROUND" "$tag" \
		"$(thread_split "$WORK/threads-before" "$WORK/threads-after" "$secs")"
}

# Checks that every request of h2load output $2 succeeded and that the
# daemon logged $3 status=OK Sign lines for them, because h2load counts
# HTTP statuses and cannot see grpc-status trailers.
h2load_check() {
	local tag=$1 out=$2 ok_lines=$3 succeeded

	succeeded=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$out")
	printf 'round %s, run %s: %s requests, %s succeeded, %s status=OK log lines\n' \
		"$ROUND" "$tag" "$BENCH_REQUESTS" "$succeeded" "$ok_lines"
	if [ "$succeeded" != "$BENCH_REQUESTS" ] || [ "$ok_lines" != "$BENCH_REQUESTS" ]; then
		log "round $ROUND, run $tag: not every request was a gRPC success"
		FAILED=1
	fi
}

# Adds the row of h2load output $2 over $3 seconds of wall time, with $4
# daemon ticks and the system_share line $5.
h2load_row() {
	local tag=$1 out=$2 secs=$3 d_ticks=$4 busy softirq rate latency d_cpu h2_cpu

	read -r busy softirq <<<"$5"
	rate=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' "$out")
	latency=$(awk '/^time for request:/ { print $6 }' "$out")
	d_cpu=$(awk -v t="$d_ticks" -v s="$secs" -v hz="$CLK_TCK" 'BEGIN { print 100 * t / hz / s }')
	h2_cpu=$(tail -1 "$WORK/h2load-times" |
		awk -v s="$secs" '{ gsub(/[ms]/, " "); print 100 * ($1 * 60 + $2 + $3 * 60 + $4) / s }')
	row_add "$tag" "$rate" "$latency" "$d_cpu" "$h2_cpu" "$softirq" \
		"$(awk -v b="$busy" -v d="$d_cpu" -v h="$h2_cpu" 'BEGIN { print b - d - h }')" \
		"$busy" -
}

# Profiles the daemon with perf during one extra 4x16 run and prints the
# share of CPU samples per shared object.
run_perf() {
	local perf_pid

	perf record -q -F 499 -p "$DAEMON_PID" -o "$WORK/perf.data" 2>/dev/null &
	perf_pid=$!
	sleep 0.5
	timeout "$H2LOAD_TIMEOUT" h2load -n "$BENCH_REQUESTS" -c 4 -m 16 \
		-d "$WORK/sign.bin" -H 'content-type: application/grpc' \
		-H 'te: trailers' "http://$GRPC_ADDR/hsmjwt.v1.TokenService/Sign" \
		>/dev/null 2>&1 || log "h2load under perf failed"
	kill -INT "$perf_pid"
	wait "$perf_pid" || true
	printf '\ndaemon CPU samples by shared object (perf, extra 4x16 run):\n'
	perf report -i "$WORK/perf.data" --stdio --sort dso 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -12
}

# Prints the rows of every round, then a summary over the runs that other
# processes did not disturb (other at most OTHER_MAX % of one core). The
# summary divides the median rate of each daemon setting by the highest raw
# 2-thread rate, because SoftHSM's two threads sometimes contend on its
# mutexes and then sign more slowly with the machine partly idle.
print_table() {
	printf '\n%-5s %-27s %8s %7s %8s %8s %7s %7s %7s %6s %8s\n' round run 'sig/s' \
		'x raw2' 'mean lat' 'signer' 'h2load' softirq other busy 'C_Sign'
	awk -v cpus="$(nproc)" -v other_max="$OTHER_MAX" '
	function name(tag) {
		if (tag == "raw1") return "raw C_Sign, 1 thread"
		if (tag == "raw2") return "raw C_Sign, 2 threads"
		split(tag, cm, "x")
		return sprintf("hsmjwtd %s conn x %s stream", cm[1], cm[2])
	}
	# Sorts list[1..k] and returns its median.
	function median(list, k,    i, j, x) {
		for (i = 2; i <= k; i++) {
			for (j = i; j > 1 && list[j - 1] > list[j]; j--) {
				x = list[j]; list[j] = list[j - 1]; list[j - 1] = x
			}
		}
		return (k % 2) ? list[(k + 1) / 2] : (list[k / 2] + list[k / 2 + 1]) / 2
	}
	NR == FNR { if ($2 == "raw2") raw2[$1] = $3; if ($2 == "raw1") us[$1] = $10; next }
	{
		quiet = ($8 <= other_max)
		c_sign = ($2 ~ /^raw/) ? "-" : sprintf("%.0f%%", $3 * us[$1] / 1e4)
		printf "%-5s %-27s %8.0f %7.2f %8s %7.0f%% %7s %6.0f%% %6.0f%%%s %5.0f%% %8s\n",
		    $1, name($2), $3, $3 / raw2[$1], $4, $5,
		    ($6 == "-") ? "-" : sprintf("%.0f%%", $6), $7, $8, quiet ? " " : "*",
		    $9 / cpus, c_sign
		if (!($2 in n)) { order[++tags] = $2; n[$2] = 0 }
		if (quiet) rates[$2, ++n[$2]] = $3
	}
	END {
		printf "\n*: other processes used more than %d%% of one core during the run.\n", other_max
		if (n["raw2"] == 0) {
			printf "no raw 2-thread run was undisturbed, so there is no summary\n"
			exit
		}
		reference = 0
		for (i = 1; i <= n["raw2"]; i++) {
			if (rates["raw2", i] > reference)
				reference = rates["raw2", i]
		}
		printf "median of the undisturbed runs, and its ratio to the highest raw 2-thread rate (%.0f):\n",
		    reference
		best = 0
		for (t = 1; t <= tags; t++) {
			tag = order[t]
			if (n[tag] == 0) {
				printf "  %-27s no undisturbed run\n", name(tag)
				continue
			}
			for (i = 1; i <= n[tag]; i++) v[i] = rates[tag, i]
			m = median(v, n[tag])
			printf "  %-27s %8.0f sig/s %5.2fx (%d runs)\n", name(tag), m,
			    m / reference, n[tag]
			if (tag !~ /^raw/ && m > best) { best = m; best_tag = tag }
		}
		if (best > 0)
			printf "best: %s at %.2fx the highest raw 2-thread rate, so the 0.5x goal is %s\n",
			    name(best_tag), best / reference,
			    (best / reference >= 0.5) ? "reached" : "not reached"
	}' "$WORK/rows" "$WORK/rows"
	cat <<-'EOF'

	signer: CPU of p11bench or hsmjwtd. h2load, softirq (network receive, mostly
	loopback TCP, and mostly inside the signer and h2load figures) and other
	(every other process, and kernel work that /proc does not charge to one;
	about +-10% from tick sampling) are in % of one core. busy is the share of
	all CPUs. C_Sign is an estimate of the daemon's CPU for SHA-256 plus C_Sign:
	the daemon rate times the CPU time per signature of the 1-thread p11bench
	run of that round, in % of one core.
	EOF
}

main() {
	require_tools
	build
	print_machine
	WORK=$(mktemp -d /tmp/hsmjwt-bench.XXXXXX)
	make_token
	GRPC_ADDR=127.0.0.1:$(free_port)
	HTTP_ADDR=127.0.0.1:$(free_port)
	start_daemon
	write_sign_request "$WORK/sign.bin"

	: >"$WORK/rows"
	for ROUND in $(seq 1 "$BENCH_ROUNDS"); do
		run_p11bench 1
		run_p11bench 2
		for setting in $SETTINGS; do
			run_h2load "${setting%x*}" "${setting#*x}"
		done
	done
	print_table

	if [ "${BENCH_PERF:-1}" = 1 ] && command -v perf >/dev/null; then
		run_perf
	fi
	stop_daemon
	if [ "$FAILED" != 0 ]; then
		die "some runs failed or had requests that were not gRPC successes"
	fi
}

main "$@"
