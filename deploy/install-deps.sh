#!/usr/bin/env bash
# Installs the Debian packages that hsmjwt needs and that are missing.
#
#   deploy/install-deps.sh          build and run hsmjwtd (the quickstart's needs)
#   deploy/install-deps.sh --tests  also the test suites' clients and tools
#
# Runs apt-get only when a package is missing; needs root for that.
set -euo pipefail

build_packages=(
	meson ninja-build pkg-config gcc
	libgrpc-dev libprotobuf-c-dev protobuf-c-compiler
	libssl-dev libp11-kit-dev libjansson-dev libmicrohttpd-dev libyaml-dev
	softhsm2 opensc openssl
	protobuf-compiler python3-grpcio python3-protobuf
	curl ca-certificates
)
test_packages=(
	libcmocka-dev python3-jwcrypto python3-pytest nghttp2-client
)

packages=("${build_packages[@]}")
if [[ "${1:-}" == "--tests" ]]; then
	packages+=("${test_packages[@]}")
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	if [[ "${1:-}" == "--tests" ]]; then
		packages+=(nodejs npm)
	fi
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} > 0)); then
	echo "install-deps: installing ${missing[*]}" >&2
	if [[ $(id -u) -ne 0 ]]; then
		sudo=sudo
	else
		sudo=
	fi
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -f /usr/lib/softhsm/libsofthsm2.so ]]; then
	echo "install-deps: SoftHSM's module /usr/lib/softhsm/libsofthsm2.so is missing after install" >&2
	exit 1
fi
