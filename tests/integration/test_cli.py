"""Run the hsmjwt command-line client against hsmjwtd.

The client under test is $HSMJWT_CLI, else src/cli/hsmjwt in the build folder
of the daemon under test. Every daemon listens on 127.0.0.1 or on a unix socket
in a temporary folder, and the client connects only there.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from jwcrypto import jwe, jwk

from harness import (JTI_PATTERN, Profile, daemon_path, free_ports, http_get, parse_pairs,
                     payload_of, verify_token)

# Upper bound in seconds on one run of the client, so that a hang fails the test.
CLI_RUN_TIMEOUT = 60.0

PROFILES = [
    Profile("default", "ES256", ttl=300, max_ttl=3600, audiences=["billing", "search"]),
    Profile("rs256", "RS256", ttl=300, max_ttl=3600),
]
PRE_PUBLISH = 600
CLAIMS = '{"sub":"user-42","scope":["read","write"]}'

# Every option that each command's --help must name.
HELP_OPTIONS = {
    (): ["--server", "--admin", "--json", "--timeout", "--version", "--help",
         "HSMJWT_SERVER", "HSMJWT_ADMIN"],
    ("sign",): ["--profile", "--claims", "--ttl", "--aud", "--encrypt-to", "--recipient",
                "--enc-alg", "--enc", "--help"],
    ("verify",): ["--audience", "--profile", "TOKEN", "--help"],
    ("decrypt",): ["TOKEN", "--help"],
    ("jwks",): ["--help"],
    ("keys",): ["list", "generate", "rotate", "retire", "destroy"],
    ("keys", "list"): ["--help"],
    ("keys", "generate"): ["--alg", "--activate-at", "--help"],
    ("keys", "rotate"): ["--alg", "--help"],
    ("keys", "retire"): ["--now", "KID", "--help"],
    ("keys", "destroy"): ["KID", "--help"],
}

# Options that take a number, and the unit that their help must state.
HELP_UNITS = [
    ((), "--timeout SECONDS", "seconds"),
    (("sign",), "--ttl SECONDS", "seconds"),
    (("keys", "generate"), "--activate-at UNIX_SECONDS", "Unix seconds"),
]

USAGE_ERRORS = [
    ([], "missing command"),
    (["frobnicate"], "unknown command"),
    (["--frobnicate", "jwks"], "unknown option --frobnicate"),
    (["--server"], "--server requires a value"),
    (["--timeout", "0", "jwks"], "--timeout"),
    (["--timeout", "ten", "jwks"], "--timeout"),
    (["--json=yes", "jwks"], "--json takes no value"),
    (["sign", "--frobnicate"], "unknown option --frobnicate"),
    (["sign", "--profile"], "--profile requires a value"),
    (["sign", "--ttl", "abc"], "--ttl"),
    (["sign", "--ttl", "-1"], "--ttl"),
    (["sign", "--ttl", "4294967296"], "--ttl"),
    (["sign", "--ttl", " 5"], "--ttl"),
    (["sign", "--ttl", "5s"], "--ttl"),
    (["sign", "extra"], "unexpected argument"),
    (["sign", "--recipient", "partner-a"], "--enc-alg"),
    (["sign", "--enc-alg", "ECDH-ES", "--enc", "A256GCM"], "recipient"),
    (["sign", "--recipient", "a", "--encrypt-to", "b.jwk", "--enc-alg", "ECDH-ES",
      "--enc", "A256GCM"], "--encrypt-to and --recipient"),
    (["sign", "--claims", "-", "--encrypt-to", "-", "--enc-alg", "ECDH-ES",
      "--enc", "A256GCM"], "stdin"),
    (["verify"], "missing TOKEN"),
    (["verify", "a.b.c", "d.e.f"], "too many arguments"),
    (["decrypt"], "missing TOKEN"),
    (["jwks", "extra"], "unexpected argument"),
    (["keys"], "missing subcommand"),
    (["keys", "frobnicate"], "unknown subcommand"),
    (["keys", "list", "--frobnicate"], "unknown option --frobnicate"),
    (["keys", "generate"], "missing --alg"),
    (["keys", "generate", "--alg", "ES256", "--activate-at", "-5"], "--activate-at"),
    (["keys", "generate", "--alg", "ES256", "--activate-at", "tomorrow"], "--activate-at"),
    (["keys", "rotate"], "missing --alg"),
    (["keys", "retire"], "missing KID"),
    (["keys", "retire", "--now=yes", "kid"], "--now takes no value"),
    (["keys", "destroy"], "missing KID"),
    (["keys", "destroy", "-AE6GdE5uuzXyMv95fRQZsm0eeYyY2Fec6B2pr8q1lU"], "'--'"),
]

ISO_8601_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
KEY_FIELDS = {"kid", "alg", "state", "created_at", "activate_at", "retire_at", "unpublish_at",
              "public_jwk_json", "pkcs11_uri"}
KEY_STATES = {"pending", "active", "retired", "expired"}


def cli_path():
    """Return the client under test: $HSMJWT_CLI, else BUILD/src/cli/hsmjwt beside the daemon."""
    value = os.environ.get("HSMJWT_CLI")
    path = Path(value) if value else daemon_path().parents[1] / "cli" / "hsmjwt"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"hsmjwt not found at {path}; build it with ninja (target src/cli/hsmjwt) "
                    f"or set HSMJWT_CLI to its path", pytrace=False)
    return path


def run_cli(*args, stdin=None, env=None):
    """Run the client with args and return the CompletedProcess (text mode).

    HSMJWT_SERVER and HSMJWT_ADMIN of the test's own environment are removed;
    env adds variables.
    """
    full_env = {name: value for name, value in os.environ.items()
                if name not in ("HSMJWT_SERVER", "HSMJWT_ADMIN")}
    full_env.update(env or {})
    return subprocess.run([str(cli_path()), *args], input=stdin, capture_output=True,
                          text=True, env=full_env, timeout=CLI_RUN_TIMEOUT, check=False)


def cli_json(*args, **kwargs):
    """Run the client with --json, check exit status 0 and return the parsed stdout."""
    result = run_cli("--json", *args, **kwargs)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1, result.stdout
    return json.loads(result.stdout)


def sign_args(daemon, *args):
    return ["--server", daemon.grpc_target, "sign", *args]


def admin_args(daemon, *args):
    return ["--admin", daemon.admin_target, "keys", *args]


@pytest.fixture(scope="module")
def daemon(module_daemons):
    return module_daemons.start(profiles=PROFILES, pre_publish=f"{PRE_PUBLISH}s")


@pytest.fixture(scope="module")
def http_jwks(daemon):
    status, _, body = http_get(daemon.http_base + "/.well-known/jwks.json")
    assert status == 200
    return json.loads(body)


@pytest.fixture
def socket_dir():
    """A short folder for unix sockets, whose paths are limited to 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="hsmjwt-cli-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def insert_after(text, line, addition):
    """Insert addition after the first occurrence of line in a rendered config."""
    assert line in text, f"{line!r} is not in the config"
    return text.replace(line, line + addition, 1)


@pytest.fixture
def admin_daemon(socket_dir, daemons):
    """A daemon whose KeyAdmin listens on a unix socket in socket_dir.

    daemon.admin_target is the socket's gRPC address. socket_dir comes first
    so that it is removed after the daemon stops.
    """
    token = daemons.token()
    text, grpc_port, http_port = daemons.config(token=token, profiles=[Profile("default", "ES256")],
                                                pre_publish=f"{PRE_PUBLISH}s")
    admin_target = f"unix:{socket_dir / 'admin.sock'}"
    text = insert_after(text, f'  http: "127.0.0.1:{http_port}"\n',
                        f"  admin: {json.dumps(admin_target)}\n")
    daemon = daemons.start_with_config(text, grpc_port, http_port, token)
    daemon.admin_target = admin_target
    return daemon


def list_keys(daemon):
    return cli_json(*admin_args(daemon, "list"))["keys"]


def keys_by_kid(daemon):
    return {key["kid"]: key for key in list_keys(daemon)}


def active_kid(daemon, alg="ES256"):
    active = [key["kid"] for key in list_keys(daemon)
              if key["alg"] == alg and key["state"] == "active"]
    assert len(active) == 1, active
    return active[0]


def signing_kid(daemon):
    return cli_json(*sign_args(daemon, "--claims", "{}"))["kid"]


def jwks_kids(daemon):
    return {member["kid"] for member in daemon.client.jwks()["keys"]}


# --- help and usage errors ---

@pytest.mark.parametrize("command", list(HELP_OPTIONS), ids=lambda c: " ".join(c) or "hsmjwt")
def test_help_exits_zero(command):
    result = run_cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: hsmjwt")
    assert result.stderr == ""


@pytest.mark.parametrize("command", list(HELP_OPTIONS), ids=lambda c: " ".join(c) or "hsmjwt")
def test_help_names_options(command):
    result = run_cli(*command, "--help")
    missing = [option for option in HELP_OPTIONS[command] if option not in result.stdout]
    assert missing == []


@pytest.mark.parametrize("command,option,unit", HELP_UNITS)
def test_help_states_units(command, option, unit):
    text = run_cli(*command, "--help").stdout
    line_start = text.index("\n  " + option)
    description = text[line_start:text.index("\n  -", line_start + 1)]
    assert unit in description


def test_help_short_option():
    assert run_cli("sign", "-h").stdout == run_cli("sign", "--help").stdout


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"hsmjwt \d+\.\d+\.\d+\n", result.stdout)


@pytest.mark.parametrize("args,fragment", USAGE_ERRORS, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else None)
def test_usage_error_exits_2(args, fragment):
    result = run_cli(*args, stdin="")
    assert result.returncode == 2
    assert result.stderr.startswith("hsmjwt: ")
    assert fragment in result.stderr
    assert "--help" in result.stderr
    assert result.stdout == ""


def test_usage_error_hides_option_value():
    result = run_cli("sign", "--claimz=secret-value")
    assert result.returncode == 2
    assert "secret-value" not in result.stderr


# --- sign and jwks ---

def test_sign_prints_token(daemon, http_jwks):
    result = run_cli(*sign_args(daemon, "--claims", CLAIMS))
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n")
    token = result.stdout[:-1]
    _, payload = verify_token(token, http_jwks, "ES256")
    claims = dict(parse_pairs(payload))
    assert claims["sub"] == "user-42"
    assert claims["scope"] == ["read", "write"]


def test_sign_rs256_profile(daemon, http_jwks):
    result = run_cli(*sign_args(daemon, "--profile", "rs256", "--claims", CLAIMS))
    assert result.returncode == 0, result.stderr
    verify_token(result.stdout.strip(), http_jwks, "RS256")


def test_sign_json_fields(daemon, http_jwks):
    before = int(time.time())
    output = cli_json(*sign_args(daemon, "--claims", CLAIMS, "--ttl", "120"))
    after = int(time.time())

    assert set(output) == {"token", "kid", "alg", "issued_at", "expires_at", "jti"}
    header, payload = verify_token(output["token"], http_jwks, "ES256")
    claims = dict(parse_pairs(payload))
    assert json.loads(header)["kid"] == output["kid"]
    assert output["alg"] == "ES256"
    assert before <= output["issued_at"] <= after
    assert output["expires_at"] == output["issued_at"] + 120
    assert JTI_PATTERN.fullmatch(output["jti"])
    assert claims["jti"] == output["jti"]
    assert claims["iat"] == output["issued_at"]
    assert claims["exp"] == output["expires_at"]


def test_sign_default_claims_empty(daemon):
    token = cli_json(*sign_args(daemon))["token"]
    claims = dict(parse_pairs(payload_of(token)))
    assert set(claims) == {"iss", "iat", "exp", "jti"}


def test_sign_claims_from_file(daemon, tmp_path):
    claims_file = tmp_path / "claims.json"
    claims_file.write_text(CLAIMS + "\n")
    token = cli_json(*sign_args(daemon, "--claims", f"@{claims_file}"))["token"]
    assert dict(parse_pairs(payload_of(token)))["sub"] == "user-42"


def test_sign_claims_from_stdin(daemon):
    token = cli_json(*sign_args(daemon, "--claims", "-"), stdin=CLAIMS)["token"]
    assert dict(parse_pairs(payload_of(token)))["sub"] == "user-42"


def test_sign_claims_file_missing(daemon, tmp_path):
    missing = tmp_path / "absent.json"
    result = run_cli(*sign_args(daemon, "--claims", f"@{missing}"))
    assert result.returncode == 1
    assert str(missing) in result.stderr
    assert "--claims" in result.stderr


def test_sign_claims_with_nul_rejected(daemon, tmp_path):
    claims_file = tmp_path / "claims.json"
    claims_file.write_bytes(b'{"sub":"a\x00b"}')
    result = run_cli(*sign_args(daemon, "--claims", f"@{claims_file}"))
    assert result.returncode == 1
    assert "NUL" in result.stderr


def test_sign_audiences(daemon):
    token = cli_json(*sign_args(daemon, "--aud", "billing", "--aud", "search"))["token"]
    assert dict(parse_pairs(payload_of(token)))["aud"] == ["billing", "search"]


def test_sign_one_audience(daemon):
    token = cli_json(*sign_args(daemon, "--aud", "billing"))["token"]
    assert dict(parse_pairs(payload_of(token)))["aud"] == "billing"


def test_sign_server_from_environment(daemon):
    result = run_cli("sign", env={"HSMJWT_SERVER": daemon.grpc_target})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(".") == 2


def test_sign_server_flag_beats_environment(daemon):
    unused_port = free_ports(1)[0]
    result = run_cli(*sign_args(daemon), env={"HSMJWT_SERVER": f"127.0.0.1:{unused_port}"})
    assert result.returncode == 0, result.stderr


def test_sign_registered_claim_rejected(daemon):
    result = run_cli(*sign_args(daemon, "--claims", '{"iss":"https://elsewhere.test"}'))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("hsmjwt: sign: INVALID_ARGUMENT: ")
    assert '"iss"' in result.stderr
    assert "claims_json" in result.stderr


def test_sign_refusal_hides_claim_value(daemon):
    result = run_cli(*sign_args(daemon, "--claims", '{"iss":"value-4711"}'))
    assert result.returncode == 1
    assert "value-4711" not in result.stderr


def test_sign_ttl_above_max(daemon):
    result = run_cli(*sign_args(daemon, "--ttl", "3601"))
    assert result.returncode == 1
    assert result.stderr.startswith("hsmjwt: sign: INVALID_ARGUMENT: ")


def test_sign_unknown_profile(daemon):
    result = run_cli(*sign_args(daemon, "--profile", "no-such-profile"))
    assert result.returncode == 1
    assert result.stderr.startswith("hsmjwt: sign: NOT_FOUND: ")


def test_sign_audience_not_allowed(daemon):
    result = run_cli(*sign_args(daemon, "--aud", "elsewhere"))
    assert result.returncode == 1
    assert result.stderr.startswith("hsmjwt: sign: PERMISSION_DENIED: ")


def test_jwks_equals_get_jwks(daemon):
    result = run_cli("--server", daemon.grpc_target, "jwks")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == daemon.client.jwks()


def test_jwks_equals_http_jwks(daemon, http_jwks):
    result = run_cli("--server", daemon.grpc_target, "jwks")
    assert json.loads(result.stdout) == http_jwks


def test_jwks_json_field(daemon):
    output = cli_json("--server", daemon.grpc_target, "jwks")
    assert set(output) == {"jwks_json"}
    assert json.loads(output["jwks_json"]) == daemon.client.jwks()


# --- connection failures and deadlines ---

def test_unreachable_server():
    address = f"127.0.0.1:{free_ports(1)[0]}"
    result = run_cli("--server", address, "jwks")
    assert result.returncode == 1
    assert result.stderr.startswith("hsmjwt: jwks: UNAVAILABLE: ")
    assert address in result.stderr
    assert "--server" in result.stderr
    assert "HSMJWT_SERVER" in result.stderr


def test_unreachable_admin_socket(socket_dir):
    address = f"unix:{socket_dir / 'absent.sock'}"
    result = run_cli("--admin", address, "keys", "list")
    assert result.returncode == 1
    assert result.stderr.startswith("hsmjwt: keys list: UNAVAILABLE: ")
    assert address in result.stderr
    assert "--admin" in result.stderr


def test_silent_server_deadline():
    """A listener that never replies makes the call end at --timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        start = time.monotonic()
        result = run_cli("--timeout", "1", "--server", address, "jwks")
        elapsed = time.monotonic() - start
    assert result.returncode == 1
    assert result.stderr.startswith("hsmjwt: jwks: DEADLINE_EXCEEDED: ")
    assert address in result.stderr
    assert elapsed < 10


def test_keys_not_served_on_token_port(daemon):
    """KeyAdmin is served only on listen.admin, so the TokenService port returns UNIMPLEMENTED."""
    result = run_cli("--admin", daemon.grpc_target, "keys", "list")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("hsmjwt: keys list: UNIMPLEMENTED: ")
    assert result.stderr.count("\n") == 1


# --- verify, decrypt and nested tokens ---

def test_verify_valid(daemon):
    signed = cli_json(*sign_args(daemon, "--claims", CLAIMS))
    result = run_cli("--server", daemon.grpc_target, "verify", signed["token"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "valid"
    assert f"kid: {signed['kid']}" in lines
    assert "alg: ES256" in lines
    assert '"sub":"user-42"' in result.stdout


def test_verify_token_from_stdin(daemon):
    token = cli_json(*sign_args(daemon))["token"]
    result = run_cli("--server", daemon.grpc_target, "verify", "-", stdin=token + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("valid\n")


def test_verify_json_fields(daemon):
    signed = cli_json(*sign_args(daemon, "--claims", CLAIMS))
    output = cli_json("--server", daemon.grpc_target, "verify", signed["token"])
    assert set(output) == {"valid", "reason", "claims_json", "kid", "alg"}
    assert output["valid"] is True
    assert output["kid"] == signed["kid"]
    assert json.loads(output["claims_json"])["sub"] == "user-42"


def test_verify_tampered_invalid(daemon):
    token = cli_json(*sign_args(daemon, "--claims", CLAIMS))["token"]
    header, payload, signature = token.split(".")
    forged = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    result = run_cli("--server", daemon.grpc_target, "verify", f"{header}.{forged}.{signature}")
    assert result.returncode == 1
    assert result.stdout.startswith("invalid: ")


def test_verify_wrong_audience_invalid(daemon):
    token = cli_json(*sign_args(daemon, "--aud", "billing"))["token"]
    result = run_cli("--server", daemon.grpc_target, "verify", "--audience", "search", token)
    assert result.returncode == 1
    assert result.stdout.startswith("invalid: ")


def test_verify_json_invalid(daemon):
    token = cli_json(*sign_args(daemon))["token"]
    header, payload, _ = token.split(".")
    result = run_cli("--json", "--server", daemon.grpc_target, "verify",
                     f"{header}.{payload}.{'A' * 86}")
    assert result.returncode == 1
    output = json.loads(result.stdout)
    assert output["valid"] is False
    assert output["reason"] != ""


def test_verify_profile_mismatch_invalid(daemon):
    token = cli_json(*sign_args(daemon))["token"]
    result = run_cli("--server", daemon.grpc_target, "verify", "--profile", "rs256", token)
    assert result.returncode == 1
    assert result.stdout.startswith("invalid: ")


def test_decrypt_plaintext(daemons):
    token = daemons.token()
    text, grpc_port, http_port = daemons.config(token=token, profiles=[Profile("default", "ES256")])
    text = insert_after(text, "keys:\n", "  decryption: [ECDH-ES+A256KW]\n")
    daemon = daemons.start_with_config(text, grpc_port, http_port, token)
    enc_keys = [member for member in daemon.client.jwks()["keys"] if member.get("use") == "enc"]
    assert enc_keys, "the JWKS has no key with \"use\":\"enc\""

    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": enc_keys[0]["kid"]}
    message = jwe.JWE(b"plaintext bytes\x00\x01", json.dumps(header))
    message.add_recipient(jwk.JWK(**enc_keys[0]))
    result = subprocess.run([str(cli_path()), "--server", daemon.grpc_target, "decrypt",
                             message.serialize(compact=True)],
                            capture_output=True, timeout=CLI_RUN_TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"plaintext bytes\x00\x01"


def start_nested_daemon(factory, recipient_file):
    """Start a daemon whose "nested" profile encrypts to partner-a or to an inline JWK."""
    token = factory.token()
    profiles = [Profile("default", "ES256"), Profile("nested", "ES256")]
    text, grpc_port, http_port = factory.config(token=token, profiles=profiles)
    text += ("    encryption:\n"
             "      recipients: [partner-a]\n"
             "      inline_recipients: true\n"
             "recipients:\n"
             "  - name: partner-a\n"
             f"    jwk_file: {json.dumps(str(recipient_file))}\n")
    return factory.start_with_config(text, grpc_port, http_port, token)


@pytest.fixture
def recipient_key(tmp_path):
    """An EC P-256 recipient key pair, with its public JWK in recipient.jwk."""
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="partner-a-1")
    path = tmp_path / "recipient.jwk"
    path.write_text(key.export_public())
    return key, path


def check_nested(daemon, token, key):
    message = jwe.JWE()
    message.deserialize(token, key=key)
    assert message.jose_header["cty"] == "JWT"
    assert message.jose_header["alg"] == "ECDH-ES+A256KW"
    assert message.jose_header["enc"] == "A256GCM"
    verify_token(message.payload.decode(), daemon.client.jwks(), "ES256")


def test_sign_encrypt_to_file(daemons, recipient_key):
    key, path = recipient_key
    daemon = start_nested_daemon(daemons, path)
    result = run_cli(*sign_args(daemon, "--profile", "nested", "--encrypt-to", str(path),
                                "--enc-alg", "ECDH-ES+A256KW", "--enc", "A256GCM"))
    assert result.returncode == 0, result.stderr
    check_nested(daemon, result.stdout.strip(), key)


def test_sign_named_recipient(daemons, recipient_key):
    key, path = recipient_key
    daemon = start_nested_daemon(daemons, path)
    result = run_cli(*sign_args(daemon, "--profile", "nested", "--recipient", "partner-a",
                                "--enc-alg", "ECDH-ES+A256KW", "--enc", "A256GCM"))
    assert result.returncode == 0, result.stderr
    check_nested(daemon, result.stdout.strip(), key)


# --- keys, against the KeyAdmin contract ---

def test_keys_list_table(admin_daemon):
    result = run_cli(*admin_args(admin_daemon, "list"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["KID", "ALG", "STATE", "CREATED", "ACTIVATE", "RETIRE",
                                "UNPUBLISH"]
    kid = next(iter(jwks_kids(admin_daemon)))
    row = next(line.split() for line in lines[1:] if line.startswith(kid))
    assert row[1:3] == ["ES256", "active"]
    assert ISO_8601_UTC.fullmatch(row[3])
    assert ISO_8601_UTC.fullmatch(row[4])


def test_keys_list_json(admin_daemon):
    keys = list_keys(admin_daemon)
    assert len(keys) == 1
    assert set(keys[0]) == KEY_FIELDS
    assert keys[0]["state"] == "active"
    assert keys[0]["alg"] == "ES256"
    assert keys[0]["kid"] == signing_kid(admin_daemon)
    assert json.loads(keys[0]["public_jwk_json"])["kid"] == keys[0]["kid"]
    assert keys[0]["pkcs11_uri"].startswith("pkcs11:")


def test_keys_generate_pending(admin_daemon):
    activate_at = int(time.time()) + 3600
    key = cli_json(*admin_args(admin_daemon, "generate", "--alg", "ES256",
                               "--activate-at", str(activate_at)))
    assert set(key) == KEY_FIELDS
    assert key["state"] == "pending"
    assert key["activate_at"] == activate_at
    assert key["kid"] in jwks_kids(admin_daemon)
    assert keys_by_kid(admin_daemon)[key["kid"]]["state"] == "pending"
    assert signing_kid(admin_daemon) != key["kid"]


def wait_past_activation(daemon, kid):
    """Sleep until the clock is past the second in which kid activated.

    NOTE: GenerateKey moves a past activate_at to now, so a key generated in
    the second in which the active key activated ties with it on activate_at,
    and the smaller kid signs. Waiting keeps these tests off that tie.
    """
    activate_at = keys_by_kid(daemon)[kid]["activate_at"]
    while int(time.time()) <= activate_at:
        time.sleep(0.1)


def test_keys_generate_past_activates(admin_daemon):
    wait_past_activation(admin_daemon, active_kid(admin_daemon))
    key = cli_json(*admin_args(admin_daemon, "generate", "--alg", "ES256",
                               "--activate-at", "1"))
    assert key["state"] == "active"
    assert signing_kid(admin_daemon) == key["kid"]


def test_keys_generate_default_prepublish(admin_daemon):
    before = int(time.time())
    key = cli_json(*admin_args(admin_daemon, "generate", "--alg", "ES256"))
    after = int(time.time())
    assert key["state"] == "pending"
    assert before + PRE_PUBLISH <= key["activate_at"] <= after + PRE_PUBLISH


def test_keys_generate_human(admin_daemon):
    result = run_cli(*admin_args(admin_daemon, "generate", "--alg", "ES256"))
    assert result.returncode == 0, result.stderr
    fields = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert fields["state"].strip() == "pending"
    assert ISO_8601_UTC.fullmatch(fields["activate"].strip())
    assert fields["kid"].strip() in jwks_kids(admin_daemon)


def test_keys_generate_bad_alg(admin_daemon):
    result = run_cli(*admin_args(admin_daemon, "generate", "--alg", "none"))
    assert result.returncode == 1
    assert result.stderr.startswith("hsmjwt: keys generate: INVALID_ARGUMENT: ")


def test_keys_rotate(admin_daemon):
    old_kid = active_kid(admin_daemon)
    before = int(time.time())
    new = cli_json(*admin_args(admin_daemon, "rotate", "--alg", "ES256"))
    after = int(time.time())

    assert new["kid"] != old_kid
    assert new["state"] == "pending"
    assert before + PRE_PUBLISH <= new["activate_at"] <= after + PRE_PUBLISH
    keys = keys_by_kid(admin_daemon)
    assert {key["state"] for key in keys.values()} <= KEY_STATES
    assert keys[old_kid]["state"] == "active"
    assert keys[old_kid]["retire_at"] != 0
    assert new["kid"] in jwks_kids(admin_daemon)


def test_keys_retire_now(admin_daemon):
    """Retiring now is for a compromised key: it is unpublished at once and another key signs."""
    old_kid = active_kid(admin_daemon)
    before = int(time.time())
    retired = cli_json(*admin_args(admin_daemon, "retire", "--now", "--", old_kid))
    after = int(time.time())

    assert retired["kid"] == old_kid
    assert retired["state"] == "expired"
    assert before <= retired["retire_at"] <= after
    assert old_kid not in jwks_kids(admin_daemon)
    assert signing_kid(admin_daemon) not in ("", old_kid)


def test_keys_retire_active_needs_now(admin_daemon):
    kid = active_kid(admin_daemon)
    result = run_cli(*admin_args(admin_daemon, "retire", "--", kid))
    assert result.returncode == 1
    assert result.stderr.startswith("hsmjwt: keys retire: FAILED_PRECONDITION: ")
    assert keys_by_kid(admin_daemon)[kid]["state"] == "active"


def test_keys_retire_unknown_kid(admin_daemon):
    result = run_cli(*admin_args(admin_daemon, "retire", "--now", "--", "no-such-kid"))
    assert result.returncode == 1
    assert result.stderr.startswith("hsmjwt: keys retire: NOT_FOUND: ")


def test_keys_destroy_active_rejected(admin_daemon):
    kid = active_kid(admin_daemon)
    result = run_cli(*admin_args(admin_daemon, "destroy", "--", kid))
    assert result.returncode == 1
    assert result.stderr.startswith("hsmjwt: keys destroy: FAILED_PRECONDITION: ")
    assert kid in keys_by_kid(admin_daemon)


def test_keys_destroy_unknown_kid(admin_daemon):
    """A KID after "--" may start with '-'."""
    result = run_cli(*admin_args(admin_daemon, "destroy", "--", "-no-such-kid"))
    assert result.returncode == 1
    assert result.stderr.startswith("hsmjwt: keys destroy: NOT_FOUND: ")


def test_keys_destroy_expired(admin_daemon):
    old_kid = active_kid(admin_daemon)
    cli_json(*admin_args(admin_daemon, "retire", "--now", "--", old_kid))
    assert keys_by_kid(admin_daemon)[old_kid]["state"] == "expired"
    objects_before = len(admin_daemon.token.service_keys())

    result = run_cli(*admin_args(admin_daemon, "destroy", "--", old_kid))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"destroyed {old_kid}\n"
    assert old_kid not in keys_by_kid(admin_daemon)
    assert len(admin_daemon.token.service_keys()) == objects_before - 1


def test_keys_destroy_json(admin_daemon):
    old_kid = active_kid(admin_daemon)
    cli_json(*admin_args(admin_daemon, "retire", "--now", "--", old_kid))
    assert cli_json(*admin_args(admin_daemon, "destroy", "--", old_kid)) == {}


def test_keys_admin_from_environment(admin_daemon):
    result = run_cli("--json", "keys", "list", env={"HSMJWT_ADMIN": admin_daemon.admin_target})
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["keys"]) == 1
