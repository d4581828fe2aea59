"""The PIN, the keys, claims and tokens stay out of places where they do not belong.

The last test stops the daemon, so that its whole log can be searched.
"""

import re
from pathlib import Path

import pytest

from harness import Profile, expect_rpc_error

PROFILES = [
    Profile("es256", "ES256"),
    Profile("rs256", "RS256"),
    Profile("ps256", "PS256"),
]
ALGS = {profile.alg for profile in PROFILES}

# A claim value that must never reach the log.
CLAIM_SECRET = "claim-value-q8w2m5"

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ level=(debug|info|warn|error) event=\S+( \S.*)?")


@pytest.fixture(scope="module")
def daemon(module_daemons):
    # The token's PIN is random and distinctive ("pin-" and 24 hex digits).
    return module_daemons.start(profiles=PROFILES)


@pytest.fixture(scope="module")
def issued_tokens(daemon):
    """Sign with every profile, plus a few rejected requests, so that the log has lines."""
    tokens = []
    for profile in PROFILES:
        response = daemon.client.sign(profile=profile.name,
                                      claims_json=f'{{"sub":"{CLAIM_SECRET}"}}')
        tokens.append(response.token)
    expect_rpc_error(daemon.client.sign, profile="es256",
                     claims_json=f'{{"iss":"{CLAIM_SECRET}"}}')
    expect_rpc_error(daemon.client.sign, profile="es256", claims_json=f'{{"a":"{CLAIM_SECRET}"')
    return tokens


def test_pin_absent_from_cmdline(daemon):
    cmdline = Path(f"/proc/{daemon.pid}/cmdline").read_bytes()
    assert daemon.token.pin.encode() not in cmdline


def test_pin_absent_from_environ(daemon):
    environ = Path(f"/proc/{daemon.pid}/environ").read_bytes()
    assert daemon.token.pin.encode() not in environ


def test_private_keys_one_per_alg(daemon):
    keys = daemon.token.service_keys("Private Key Object")
    assert len(keys) == len(ALGS)


@pytest.mark.parametrize("flag", ["sensitive", "always sensitive", "never extractable", "local"])
def test_private_keys_protected(daemon, flag):
    keys = daemon.token.service_keys("Private Key Object")
    assert keys
    for key in keys:
        access = {item.strip() for item in key.get("access", "").split(",")}
        assert flag in access, f"{key['label']}: Access is {key.get('access')!r}"


def test_private_keys_not_extractable(daemon):
    for key in daemon.token.service_keys("Private Key Object"):
        access = {item.strip() for item in key.get("access", "").split(",")}
        assert "extractable" not in access, f"{key['label']}: Access is {key.get('access')!r}"


def test_public_key_beside_each_private_key(daemon):
    private_ids = sorted(key["id"] for key in daemon.token.service_keys("Private Key Object"))
    public_ids = sorted(key["id"] for key in daemon.token.service_keys("Public Key Object"))
    assert public_ids == private_ids


def test_key_types_match_algs(daemon):
    types = sorted(key["type"].split()[0] for key in daemon.token.service_keys("Private Key Object"))
    assert types == ["EC", "RSA", "RSA"]


def test_log_has_no_claims_or_tokens(daemon, issued_tokens):
    text = daemon.stderr_text()
    assert CLAIM_SECRET not in text
    for token in issued_tokens:
        header, payload, signature = token.split(".")
        assert payload not in text
        assert signature not in text


def test_log_lines_are_key_value(daemon, issued_tokens):
    lines = daemon.stderr_text().splitlines()
    assert lines
    for line in lines:
        assert LOG_LINE.fullmatch(line), f"not a key=value log line: {line!r}"


def test_log_has_sign_lines(daemon, issued_tokens):
    sign_lines = [line for line in daemon.stderr_text().splitlines() if "status=OK" in line]
    assert len(sign_lines) >= len(issued_tokens)


def test_pin_absent_from_log_after_stop(daemon, issued_tokens):
    status = daemon.stop()
    text = daemon.stderr_text()
    assert status == 0, text
    assert daemon.token.pin not in text
    assert daemon.token.pin not in daemon.stdout_path.read_text(errors="replace")

