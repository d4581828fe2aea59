#!/usr/bin/env bash
# Builds hsmjwt, creates a SoftHSM development token under ./.dev/, starts
# hsmjwtd on 127.0.0.1:50051 (gRPC) and 127.0.0.1:8080 (HTTP), prints one
# signed token and the JWKS URL, and serves until Ctrl-C.
#
# Running it again reuses the token, its PIN and its keys. Remove ./.dev/ to
# start over. This is a development setup: the token is a SoftHSM token on
# disk and its PIN is in .dev/pin.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dev="$root/.dev"
label=hsmjwt-dev
grpc_addr=127.0.0.1:50051
http_addr=127.0.0.1:8080

deploy/install-deps.sh

if [[ ! -f build/build.ninja ]]; then
	meson setup build -Dtests=false
fi
ninja -C build src/daemon/hsmjwtd src/cli/hsmjwt

if curl -fsS "http://$http_addr/healthz" >/dev/null 2>&1; then
	echo "quickstart: an hsmjwtd already serves http://$http_addr; stop it first" >&2
	exit 1
fi

mkdir -p "$dev/tokens"
chmod 700 "$dev"
export SOFTHSM2_CONF="$dev/softhsm2.conf"
cat >"$SOFTHSM2_CONF" <<CONF
directories.tokendir = $dev/tokens
objectstore.backend = file
log.level = ERROR
CONF

if [[ ! -s "$dev/pin" ]]; then
	(umask 077 && openssl rand -hex 16 >"$dev/pin")
fi

if ! softhsm2-util --show-slots | grep -q "Label: *$label *$"; then
	echo "quickstart: creating the SoftHSM token \"$label\" in $dev/tokens"
	# NOTE: softhsm2-util takes the PINs as arguments, so the development PIN
	# is visible in the process list while the token is created. hsmjwtd
	# itself reads it only from the PIN file.
	softhsm2-util --init-token --free --label "$label" \
		--pin "$(cat "$dev/pin")" --so-pin "$(openssl rand -hex 16)" >/dev/null
fi

cat >"$dev/hsmjwt.yaml" <<CONF
issuer: http://$http_addr
listen:
  grpc: $grpc_addr
  http: $http_addr
  admin: unix:$dev/admin.sock
hsm:
  module: /usr/lib/softhsm/libsofthsm2.so
  token: $label
  pin_file: $dev/pin
  generate_missing_keys: true
keys:
  pre_publish: 5m
profiles:
  - name: default
    alg: ES256
    ttl: 5m
    max_ttl: 1h
CONF

build/src/daemon/hsmjwtd --config "$dev/hsmjwt.yaml" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon' INT TERM

ready=
for _ in $(seq 1 100); do
	if curl -fsS "http://$http_addr/healthz" >/dev/null 2>&1; then
		ready=1
		break
	fi
	if ! kill -0 $daemon 2>/dev/null; then
		echo "quickstart: hsmjwtd exited; see its log lines above" >&2
		exit 1
	fi
	sleep 0.1
done
if [[ -z "$ready" ]]; then
	echo "quickstart: hsmjwtd did not become ready within 10 seconds" >&2
	kill -TERM $daemon
	exit 1
fi

echo
echo "A token signed in the SoftHSM token \"$label\":"
deploy/sign-once.py --server "$grpc_addr" --claims '{"sub":"quickstart"}'
echo
echo "JWKS: http://$http_addr/.well-known/jwks.json"
echo "CLI:  build/src/cli/hsmjwt --server $grpc_addr sign --claims '{\"sub\":\"alice\"}'"
echo "      build/src/cli/hsmjwt --admin unix:$dev/admin.sock keys list"
echo "hsmjwtd is serving; press Ctrl-C to stop it."
wait $daemon
