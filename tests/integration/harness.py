"""Helpers for the hsmjwtd integration tests.

They create SoftHSM tokens in temporary folders, write daemon configs, start
and stop hsmjwtd, call it over gRPC with stubs that protoc generates at
session start, and verify its tokens with jwcrypto. Every server listens on
127.0.0.1 and every client connects only there.
"""

import base64
import dataclasses
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from jwcrypto import jwk, jws

REPO_ROOT = Path(__file__).resolve().parents[2]
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
KEY_LABEL_PREFIX = "hsmjwt:"

# Timeouts in seconds. They bound every wait so that a hung daemon fails a
# test instead of stalling the run.
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
EXIT_TIMEOUT = 30.0
CALL_TIMEOUT = 10.0
TOOL_TIMEOUT = 60.0

# Maximum size of claims_json that Sign accepts, in bytes.
CLAIMS_MAX_BYTES = 64 * 1024

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:")
JTI_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
# grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING
SERVING = 1

def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def payload_of(token):
    """Return the decoded payload bytes of a compact JWS, without verifying it."""
    return b64url_decode(token.split(".")[1])


def daemon_path():
    """Return the hsmjwtd under test: $HSMJWTD, else build/src/daemon/hsmjwtd."""
    value = os.environ.get("HSMJWTD")
    path = Path(value) if value else REPO_ROOT / "build" / "src" / "daemon" / "hsmjwtd"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"hsmjwtd not found at {path}; build it with 'meson setup build && "
                    f"ninja -C build' or set HSMJWTD to its path", pytrace=False)
    return path


def shim_path():
    """Return the PKCS#11 fault shim built beside the daemon under test.

    $HSMJWT_P11SHIM overrides it. The shim lives in BUILD/tests/fault/ when the
    daemon is BUILD/src/daemon/hsmjwtd.
    """
    value = os.environ.get("HSMJWT_P11SHIM")
    path = Path(value) if value else daemon_path().parents[2] / "tests" / "fault" / "p11shim.so"
    if not path.is_file():
        pytest.fail(f"PKCS#11 fault shim not found at {path}; build it with ninja "
                    f"(target tests/fault/p11shim.so) or set HSMJWT_P11SHIM", pytrace=False)
    return path


def require_tool(name):
    for folder in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail(f"{name} not found in PATH; install the Debian package that provides it "
                f"(tests/run.sh installs every package the tests need)", pytrace=False)
    return None


def free_ports(count):
    """Return count distinct free TCP ports on 127.0.0.1.

    The sockets stay bound until all ports are chosen, so the ports differ. A
    process may still take a port before the daemon binds it, which is rare.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def generate_stubs(out_dir):
    """Generate the Python protobuf modules with protoc and import them.

    Each .proto is compiled with its own folder as --proto_path, as the meson
    build does, so that the generated modules are flat (hsmjwt_pb2,
    health_pb2) and no generated "grpc" package shadows the grpc library.
    Returns a namespace with the attributes hsmjwt and health.
    """
    protoc = require_tool("protoc")
    sources = {
        "hsmjwt": REPO_ROOT / "proto" / "hsmjwt" / "v1" / "hsmjwt.proto",
        "health": REPO_ROOT / "proto" / "grpc" / "health" / "v1" / "health.proto",
    }
    modules = {}
    for name, source in sources.items():
        result = subprocess.run(
            [protoc, f"--proto_path={source.parent}", f"--python_out={out_dir}", source.name],
            capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)
        if result.returncode != 0:
            pytest.fail(f"protoc failed on {source}: {result.stderr.strip()}", pytrace=False)
        module_name = f"{name}_pb2"
        spec = importlib.util.spec_from_file_location(module_name, Path(out_dir) / f"{module_name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        modules[name] = module
    return types.SimpleNamespace(**modules)


def encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_sign_request(profile=b"", claims_json=b""):
    """Encode a SignRequest by hand, so that claims_json may contain any bytes.

    The protobuf library refuses to serialize invalid UTF-8 in a string field,
    but a client in another language can send it.
    """
    out = b""
    if profile:
        out += b"\x0a" + encode_varint(len(profile)) + profile
    out += b"\x12" + encode_varint(len(claims_json)) + claims_json
    return out


class SoftHsmToken:
    """A SoftHSM2 token in its own folder, with its own softhsm2.conf."""

    def __init__(self, directory, label, pin):
        self.directory = Path(directory)
        self.label = label
        self.pin = pin
        self.so_pin = "so-" + secrets.token_hex(8)
        if not Path(SOFTHSM_MODULE).is_file():
            pytest.fail(f"SoftHSM module {SOFTHSM_MODULE} is missing; install softhsm2",
                        pytrace=False)

        token_dir = self.directory / "tokens"
        token_dir.mkdir(parents=True)
        self.conf = self.directory / "softhsm2.conf"
        self.conf.write_text(f"directories.tokendir = {token_dir}\n"
                             "objectstore.backend = file\n"
                             "log.level = ERROR\n")
        self._run([require_tool("softhsm2-util"), "--init-token", "--free",
                   "--label", label, "--pin", pin, "--so-pin", self.so_pin])

    @property
    def env(self):
        return {"SOFTHSM2_CONF": str(self.conf)}

    def _run(self, argv, extra_env=None):
        env = dict(os.environ, **self.env, **(extra_env or {}))
        result = subprocess.run(argv, capture_output=True, text=True, env=env,
                                timeout=TOOL_TIMEOUT, check=False)
        if result.returncode != 0:
            pytest.fail(f"{Path(argv[0]).name} failed with status {result.returncode}: "
                        f"{result.stderr.strip()}", pytrace=False)
        return result.stdout

    def list_objects(self):
        """List the token's objects with pkcs11-tool, logged in as the user.

        The PIN goes through the environment ("--pin env:VAR", which opensc's
        tools accept), not argv. Returns one dict per object with "kind"
        ("Private Key Object"), "type" ("EC", "RSA 2048 bits") and the
        indented attributes, keys lowercased ("label", "access").
        """
        output = self._run(
            [require_tool("pkcs11-tool"), "--module", SOFTHSM_MODULE,
             "--token-label", self.label, "--login", "--pin", "env:HSMJWT_TEST_PKCS11_PIN",
             "--list-objects"],
            extra_env={"HSMJWT_TEST_PKCS11_PIN": self.pin})
        objects = []
        for line in output.splitlines():
            if not line.strip():
                continue
            if not line[0].isspace():
                kind, _, kind_type = line.partition(";")
                objects.append({"kind": kind.strip(), "type": kind_type.strip()})
            elif objects and ":" in line:
                name, _, value = line.strip().partition(":")
                objects[-1][name.strip().lower()] = value.strip()
        return objects

    def service_keys(self, kind="Private Key Object"):
        return [obj for obj in self.list_objects()
                if obj["kind"] == kind and obj.get("label", "").startswith(KEY_LABEL_PREFIX)]


@dataclasses.dataclass
class Profile:
    name: str
    alg: str
    ttl: int = 300
    max_ttl: int = 3600
    audiences: list = None


def yaml_string(value):
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(value)


def render_config(*, issuer, grpc_port, http_port, module, token_label, profiles,
                  pin_file=None, pin_env=None, generate_missing_keys=True,
                  pre_publish="10m"):
    """Render a YAML daemon config that listens on 127.0.0.1 and serves profiles."""
    lines = [
        f"issuer: {yaml_string(issuer)}",
        "listen:",
        f"  grpc: {yaml_string(f'127.0.0.1:{grpc_port}')}",
        f"  http: {yaml_string(f'127.0.0.1:{http_port}')}",
        "hsm:",
        f"  module: {yaml_string(str(module))}",
        f"  token: {yaml_string(token_label)}",
    ]
    if pin_file is not None:
        lines.append(f"  pin_file: {yaml_string(str(pin_file))}")
    if pin_env is not None:
        lines.append(f"  pin_env: {yaml_string(pin_env)}")
    lines += [
        f"  generate_missing_keys: {'true' if generate_missing_keys else 'false'}",
        "keys:",
        f"  pre_publish: {pre_publish}",
        "profiles:",
    ]
    for profile in profiles:
        lines += [
            f"  - name: {yaml_string(profile.name)}",
            f"    alg: {profile.alg}",
            f"    ttl: {profile.ttl}",
            f"    max_ttl: {profile.max_ttl}",
        ]
        if profile.audiences:
            lines.append(f"    audiences: [{', '.join(yaml_string(a) for a in profile.audiences)}]")
    return "\n".join(lines) + "\n"


class Client:
    """gRPC calls to one daemon, with generated stubs and explicit method paths."""

    def __init__(self, target, stubs):
        self.stubs = stubs
        # The daemon is on loopback; a proxy from the environment must not see the calls.
        self.channel = grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)])
        pb = stubs.hsmjwt
        self._sign = self.channel.unary_unary(
            "/hsmjwt.v1.TokenService/Sign",
            request_serializer=pb.SignRequest.SerializeToString,
            response_deserializer=pb.SignResponse.FromString)
        self._jwks = self.channel.unary_unary(
            "/hsmjwt.v1.TokenService/GetJwks",
            request_serializer=pb.GetJwksRequest.SerializeToString,
            response_deserializer=pb.GetJwksResponse.FromString)
        self._health = self.channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=stubs.health.HealthCheckRequest.SerializeToString,
            response_deserializer=stubs.health.HealthCheckResponse.FromString)

    def sign(self, timeout=CALL_TIMEOUT, **fields):
        return self._sign(self.stubs.hsmjwt.SignRequest(**fields), timeout=timeout)

    def sign_raw(self, payload, timeout=CALL_TIMEOUT):
        """Send payload as the SignRequest bytes, unchanged."""
        call = self.channel.unary_unary("/hsmjwt.v1.TokenService/Sign",
                                        response_deserializer=self.stubs.hsmjwt.SignResponse.FromString)
        return call(payload, timeout=timeout)

    def call_raw(self, method, payload=b"", timeout=CALL_TIMEOUT):
        return self.channel.unary_unary(method)(payload, timeout=timeout)

    def jwks(self, timeout=CALL_TIMEOUT):
        return json.loads(self._jwks(self.stubs.hsmjwt.GetJwksRequest(), timeout=timeout).jwks_json)

    def health(self, timeout=CALL_TIMEOUT):
        return self._health(self.stubs.health.HealthCheckRequest(), timeout=timeout).status

    def close(self):
        self.channel.close()


_no_proxy_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, headers=None, timeout=CALL_TIMEOUT):
    """GET url from 127.0.0.1 and return (status, headers, body), for any status."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the tests only connect to 127.0.0.1, not {url}")
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _no_proxy_opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


class Daemon:
    """One hsmjwtd process, its log files and a client."""

    def __init__(self, *, directory, config_text, env, stubs, grpc_port, http_port,
                 config_path=None):
        self.directory = Path(directory)
        if config_path is None:
            self.config_path = self.directory / "hsmjwt.yaml"
            self.config_path.write_text(config_text)
        else:
            self.config_path = Path(config_path)
        self.stderr_path = self.directory / "stderr.log"
        self.stdout_path = self.directory / "stdout.log"
        self.grpc_target = f"127.0.0.1:{grpc_port}"
        self.http_base = f"http://127.0.0.1:{http_port}"
        self.stubs = stubs
        self.token = None
        self.stopped_on_purpose = False
        self.killed = False

        with open(self.stderr_path, "wb") as stderr, open(self.stdout_path, "wb") as stdout:
            self.process = subprocess.Popen(
                [str(daemon_path()), "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                env=env)
        self.client = Client(self.grpc_target, stubs)

    @property
    def pid(self):
        return self.process.pid

    def stderr_text(self):
        return self.stderr_path.read_text(errors="replace")

    def log_tail(self, lines=40):
        return "\n".join(self.stderr_text().splitlines()[-lines:])

    def sanitizer_report(self):
        """Return the first sanitizer marker found in stderr, or None."""
        text = self.stderr_text()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                return marker
        return None

    def sanitizer_excerpt(self, lines=60):
        """Return stderr from the first line with a sanitizer marker, up to lines lines."""
        text_lines = self.stderr_text().splitlines()
        for index, line in enumerate(text_lines):
            if any(marker in line for marker in SANITIZER_MARKERS):
                return "\n".join(text_lines[index:index + lines])
        return ""

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Wait until Health/Check is SERVING and /healthz is 200, or fail.

        Each attempt uses a new channel: a channel whose first connection was
        refused took about 5 s (grpcio 1.51) to connect after the daemon listened.
        """
        deadline = time.monotonic() + timeout
        last_problem = "no check ran"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"hsmjwtd exited with status {self.process.returncode} before it was "
                            f"ready; stderr:\n{self.log_tail()}", pytrace=False)
            probe = Client(self.grpc_target, self.stubs)
            try:
                status = probe.health(timeout=1.0)
                if status == SERVING:
                    http_status = http_get(self.http_base + "/healthz", timeout=1.0)[0]
                    if http_status == 200:
                        return
                    last_problem = f"GET /healthz returned {http_status}"
                else:
                    last_problem = f"Health/Check returned status {status}"
            except grpc.RpcError as error:
                last_problem = f"Health/Check failed: {error.code().name}"
            except OSError as error:
                last_problem = f"GET /healthz failed: {error}"
            finally:
                probe.close()
            time.sleep(0.1)
        pytest.fail(f"hsmjwtd was not ready after {timeout:.0f} s ({last_problem}); "
                    f"stderr:\n{self.log_tail()}", pytrace=False)

    def send_signal(self, signum):
        self.stopped_on_purpose = True
        self.process.send_signal(signum)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit and return its status; kill it after timeout.

        Returns None when the process had to be killed.
        """
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.killed = True
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        self.client.close()
        return None if self.killed else self.process.returncode

    def stop(self, signum=signal.SIGTERM):
        """Send signum (SIGTERM by default) and return the exit status, None on a hang.

        Closes the test's own channel first: with an idle client connection
        open, hsmjwtd took about 5 s to exit.
        """
        self.client.close()
        if self.process.poll() is None:
            self.send_signal(signum)
        return self.wait_exit()

    def problems(self):
        """List what is wrong with a stopped daemon: a bad exit or a sanitizer report."""
        found = []
        if self.killed:
            found.append(f"hsmjwtd (pid {self.pid}) did not exit within {STOP_TIMEOUT:.0f} s "
                         f"of SIGTERM and was killed")
        elif self.process.returncode != 0:
            found.append(f"hsmjwtd (pid {self.pid}) exited with status "
                         f"{self.process.returncode}, expected 0 after SIGTERM")
        marker = self.sanitizer_report()
        if marker:
            found.append(f"hsmjwtd (pid {self.pid}) stderr contains '{marker}':\n"
                         f"{self.sanitizer_excerpt()}")
        if found:
            found.append(f"stderr ({self.stderr_path}), last lines:\n{self.log_tail(40)}")
        return found


class DaemonFactory:
    """Create tokens and start daemons in one folder; stop them all at the end.

    Tokens get a distinctive random PIN, written to a PIN file with mode 0600.
    """

    def __init__(self, directory, stubs):
        self.directory = Path(directory)
        self.stubs = stubs
        self.daemons = []
        self._count = 0

    def _new_dir(self, name):
        self._count += 1
        path = self.directory / f"{self._count:02d}-{name}"
        path.mkdir(parents=True)
        return path

    def token(self, label="hsmjwt-test", pin=None):
        pin = pin or "pin-" + secrets.token_hex(12)
        return SoftHsmToken(self._new_dir("token"), label, pin)

    def pin_file(self, pin):
        path = self._new_dir("pin") / "pin"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(pin)
        return path

    def config(self, *, token, profiles, pin=None, pin_file=None, pin_env=None,
               module=SOFTHSM_MODULE, generate_missing_keys=True, pre_publish="10m",
               issuer="https://tokens.test.internal"):
        """Return (config text, grpc port, http port) for a daemon on token.

        The PIN comes from pin_env when it is set, else from pin_file, else
        from a new PIN file that contains pin (default token.pin).
        """
        grpc_port, http_port = free_ports(2)
        if pin_env is None and pin_file is None:
            pin_file = self.pin_file(pin if pin is not None else token.pin)
        text = render_config(issuer=issuer, grpc_port=grpc_port, http_port=http_port,
                             module=module, token_label=token.label, profiles=profiles,
                             pin_file=pin_file, pin_env=pin_env,
                             generate_missing_keys=generate_missing_keys,
                             pre_publish=pre_publish)
        return text, grpc_port, http_port

    def env(self, token, extra=None):
        return dict(os.environ, **token.env, **(extra or {}))

    def start(self, *, token=None, profiles, env_extra=None, wait=True, **config_options):
        """Start a daemon (on a new token unless one is given) and wait until it is ready."""
        token = token or self.token()
        text, grpc_port, http_port = self.config(token=token, profiles=profiles, **config_options)
        return self.start_with_config(text, grpc_port, http_port, token, env_extra, wait)

    def start_with_config(self, text, grpc_port, http_port, token, env_extra=None, wait=True):
        daemon = Daemon(directory=self._new_dir("daemon"), config_text=text,
                        env=self.env(token, env_extra), stubs=self.stubs,
                        grpc_port=grpc_port, http_port=http_port)
        daemon.token = token
        self.daemons.append(daemon)
        if wait:
            daemon.wait_ready()
        return daemon

    def run_to_exit(self, text, token, env_extra=None, timeout=EXIT_TIMEOUT, config_path=None):
        """Start a daemon that is expected to exit by itself; return (status, stderr).

        The daemon reads text, or config_path when it is given. Fails when the
        daemon still runs after timeout, or when its stderr contains a sanitizer
        report.
        """
        daemon = Daemon(directory=self._new_dir("daemon"), config_text=text,
                        env=self.env(token, env_extra), stubs=self.stubs,
                        grpc_port=0, http_port=0, config_path=config_path)
        try:
            status = daemon.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            daemon.process.kill()
            daemon.process.wait(timeout=STOP_TIMEOUT)
            pytest.fail(f"hsmjwtd still ran {timeout:.0f} s after start although it should "
                        f"have exited; stderr:\n{daemon.log_tail()}", pytrace=False)
        finally:
            daemon.client.close()
        marker = daemon.sanitizer_report()
        if marker:
            pytest.fail(f"hsmjwtd stderr contains '{marker}':\n{daemon.sanitizer_excerpt()}",
                        pytrace=False)
        return status, daemon.stderr_text()

    def check_running(self):
        """List daemons that died while tests used them, or that printed a sanitizer report."""
        found = []
        for daemon in self.daemons:
            if daemon.stopped_on_purpose:
                continue
            if daemon.process.poll() is not None:
                found.append(f"hsmjwtd (pid {daemon.pid}) exited unexpectedly with status "
                             f"{daemon.process.returncode}; stderr:\n{daemon.log_tail(80)}")
            elif daemon.sanitizer_report():
                found.append(f"hsmjwtd (pid {daemon.pid}) stderr contains "
                             f"'{daemon.sanitizer_report()}':\n{daemon.sanitizer_excerpt()}")
        return found

    def stop_all(self):
        """Stop every running daemon with SIGTERM and return the problems found."""
        found = []
        for daemon in self.daemons:
            if not daemon.stopped_on_purpose and daemon.process.poll() is not None:
                found.append(f"hsmjwtd (pid {daemon.pid}) exited before the end of the test "
                             f"with status {daemon.process.returncode}")
            daemon.stop()
            found += daemon.problems()
        return found


def verify_token(token, jwks, alg):
    """Verify a compact JWS against a JWK Set with jwcrypto.

    Looks up the key by the header's kid, allows only alg, and returns the
    decoded header and payload bytes exactly as they were signed.
    """
    header_b64, payload_b64, _ = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    keyset = jwk.JWKSet.from_json(json.dumps(jwks))
    key = keyset.get_key(header["kid"])
    if key is None:
        raise AssertionError(f"kid {header['kid']} of the token is not in the JWKS")
    verifier = jws.JWS()
    verifier.allowed_algs = [alg]
    verifier.deserialize(token)
    verifier.verify(key, alg=alg)
    return b64url_decode(header_b64), b64url_decode(payload_b64)


def parse_pairs(data):
    """Parse JSON and return the top-level object as a list of (name, value) pairs."""
    return json.loads(data, object_pairs_hook=lambda pairs: pairs)


def expect_rpc_error(call, *args, **kwargs):
    """Run call and return its grpc.RpcError; fail when it succeeds."""
    try:
        call(*args, **kwargs)
    except grpc.RpcError as error:
        return error
    pytest.fail("the call succeeded, expected an error status", pytrace=False)
    return None
