#!/usr/bin/env bash
# Run every test suite of hsmjwt on a Debian bookworm machine.
#
# Installs the missing Debian packages (as root), installs the Node.js interop
# dependencies with npm ci, builds with -Dwerror=true, then runs the meson unit
# tests, the Python integration tests and the Node.js interop tests. It builds
# again with AddressSanitizer and UndefinedBehaviorSanitizer and reruns the unit
# and integration tests against that daemon. The last line is
# "N passed, N failed" over all suites; the exit status is non-zero on any
# failure.
#
# Environment: HSMJWT_BUILD_DIR (default build) and HSMJWT_ASAN_BUILD_DIR
# (default build-asan) set the two build folders, relative to the repository
# root or absolute.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${HSMJWT_BUILD_DIR:-build}
asan_build_dir=${HSMJWT_ASAN_BUILD_DIR:-build-asan}
softhsm_module=/usr/lib/softhsm/libsofthsm2.so

# Upper bounds in seconds for each suite, so that a hung test cannot stall CI.
pytest_timeout=900
node_timeout=600

packages=(
	meson ninja-build pkg-config gcc
	libgrpc-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
	libssl-dev libp11-kit-dev softhsm2 libjansson-dev libmicrohttpd-dev
	libyaml-dev libcmocka-dev opensc
	python3-grpcio python3-protobuf python3-jwcrypto python3-cryptography python3-pytest
	nghttp2-client curl ca-certificates
)

total_passed=0
total_failed=0
suite_lines=()

die() {
	echo "run.sh: $*" >&2
	exit 1
}

step() {
	printf '\n=== %s\n' "$*"
}

is_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

install_packages() {
	local missing=() package

	for package in "${packages[@]}"; do
		is_installed "$package" || missing+=("$package")
	done
	# Node.js 20 and npm may come from outside Debian (/usr/bin/node from
	# NodeSource), so Debian's packages are installed only when node is absent.
	if ! command -v node >/dev/null; then
		missing+=(nodejs npm)
	fi
	if ((${#missing[@]} == 0)); then
		return
	fi

	step "installing ${missing[*]}"
	if ((EUID != 0)); then
		die "missing packages: ${missing[*]}; run as root or install them with apt-get"
	fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

check_tools() {
	[[ -f $softhsm_module ]] ||
		die "SoftHSM module $softhsm_module is missing after installing softhsm2; the integration tests need it"
	command -v npm >/dev/null ||
		die "npm not found although node $(node --version) is installed; install the npm that matches this node"
	[[ -f tests/interop/package.json ]] ||
		die "tests/interop/package.json is missing; the interop tests cannot be installed"
}

# Configure build folder $1 with the meson options that follow, or reconfigure
# it when it was configured before.
configure() {
	local dir=$1
	shift

	if [[ -f $dir/meson-private/coredata.dat ]]; then
		meson setup --reconfigure "$dir" "$@"
	else
		meson setup "$dir" "$@"
	fi
}

# Add one suite's counts to the totals. A suite that exited non-zero without
# a failed test (a crash, a timeout, a collection error) counts one failure.
record() {
	local suite=$1 status=$2 passed=$3 failed=$4

	if ((status != 0 && failed == 0)); then
		echo "run.sh: $suite exited with status $status but reported no failed test; counting 1 failure" >&2
		failed=1
	fi
	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
	suite_lines+=("$suite: $passed passed, $failed failed")
}

# Print "passed failed" from the summary of meson test in log $1. Skipped tests
# count as failed, because the project's tests fail when a component is
# missing and never skip.
count_meson() {
	awk '
		/^Ok:/ { ok = $2; found = 1 }
		/^Expected Fail:/ { xfail = $3 }
		/^Fail:/ { fail = $2 }
		/^Unexpected Pass:/ { xpass = $3 }
		/^Skipped:/ { skipped = $2 }
		/^Timeout:/ { timeout = $2 }
		/^No tests defined/ { found = 1 }
		END { if (found) print ok + xfail, fail + xpass + skipped + timeout }
	' "$1"
}

# Print "passed failed" from the last summary line of pytest -q in log $1,
# such as "41 passed, 1 failed, 2 errors in 20.1s".
count_pytest() {
	awk '
		/ in [0-9.]+s/ && /(passed|failed|error|skipped|no tests ran)/ { line = $0 }
		END {
			if (line == "")
				exit
			n = split(line, word, /[ ,=]+/)
			for (i = 1; i < n; i++) {
				if (word[i] !~ /^[0-9]+$/)
					continue
				kind = word[i + 1]
				if (kind == "passed" || kind == "xfailed" || kind == "xpassed")
					passed += word[i]
				else if (kind ~ /^(failed|error|errors|skipped)$/)
					failed += word[i]
			}
			print passed + 0, failed + 0
		}
	' "$1"
}

# Print "passed failed" from the TAP summary of node --test in log $1.
count_node() {
	awk '
		/^# tests / { tests = $3; found = 1 }
		/^# pass / { pass = $3 }
		/^# fail / { fail = $3 }
		/^# cancelled / { cancelled = $3 }
		/^# skipped / { skipped = $3 }
		END { if (found) print pass + 0, fail + cancelled + skipped, tests + 0 }
	' "$1"
}

# Run suite $1 with counter $2 (count_meson, count_pytest or count_node); the
# command follows. Its output goes to the terminal and to a log in $logs_dir.
run_suite() {
	local suite=$1 counter=$2
	shift 2
	local log status=0 counts passed failed tests

	log="$logs_dir/${suite//[^A-Za-z0-9_.-]/_}.log"
	step "$suite"
	set +e
	"$@" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	set -e

	counts=$("$counter" "$log")
	if [[ -z $counts ]]; then
		echo "run.sh: $suite printed no summary (exit status $status); counting 1 failure" >&2
		record "$suite" 1 0 1
		return
	fi
	read -r passed failed tests <<<"$counts"
	if [[ $counter == count_node && $tests == 0 ]]; then
		echo "run.sh: $suite found no test files in tests/interop/; counting 1 failure" >&2
		failed=$((failed + 1))
	fi
	record "$suite" "$status" "$passed" "$failed"
}

run_pytest() {
	local daemon=$1

	env HSMJWTD="$daemon" PYTHONDONTWRITEBYTECODE=1 \
		timeout --kill-after=30 "$pytest_timeout" \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
}

run_node() {
	local daemon=$1

	env HSMJWTD="$daemon" \
		timeout --kill-after=30 "$node_timeout" \
		node --test --test-reporter=tap tests/interop/
}

install_packages
check_tools

step "npm ci in tests/interop"
(cd tests/interop && npm ci --no-audit --no-fund)

step "build in $build_dir"
configure "$build_dir" -Dwerror=true
ninja -C "$build_dir"
daemon=$(realpath "$build_dir")/src/daemon/hsmjwtd
[[ -x $daemon ]] || die "the build finished without $daemon"

logs_dir=$(realpath "$build_dir")/test-logs
mkdir -p "$logs_dir"
run_suite "unit tests" count_meson meson test -C "$build_dir" --print-errorlogs
run_suite "integration tests" count_pytest run_pytest "$daemon"
run_suite "interop tests" count_node run_node "$daemon"

step "build with ASan and UBSan in $asan_build_dir"
configure "$asan_build_dir" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
ninja -C "$asan_build_dir"
asan_daemon=$(realpath "$asan_build_dir")/src/daemon/hsmjwtd
[[ -x $asan_daemon ]] || die "the build finished without $asan_daemon"

# SoftHSM 2.6.1 leaks inside C_SignInit, seen with Ed25519 and P-521 keys.
# tests/lsan.supp names its module, and only the slow unwinder reaches that
# frame through libcrypto.
lsan_suppressions=$(realpath tests/lsan.supp)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0
export LSAN_OPTIONS=suppressions=$lsan_suppressions
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
logs_dir=$(realpath "$asan_build_dir")/test-logs
mkdir -p "$logs_dir"
run_suite "unit tests (ASan, UBSan)" count_meson meson test -C "$asan_build_dir" --print-errorlogs
run_suite "integration tests (ASan, UBSan)" count_pytest run_pytest "$asan_daemon"

step "summary (logs in $(realpath "$build_dir")/test-logs and $logs_dir)"
printf '%s\n' "${suite_lines[@]}"
echo "$total_passed passed, $total_failed failed"
((total_failed == 0))
