"""Nested JWTs with A128KW and A256KW: the CEK is wrapped with an AES key shared in the token.

The test imports a known AES key into the token as "hsmjwt-kw:<kid>" with
pkcs11-tool (sensitive). The config names the recipient with a JWK that
carries only kty, kid and alg. python3-jwcrypto decrypts the daemon's tokens
with the known key.
"""

import json
import os
import subprocess

import grpc
import pytest
from jwcrypto import jwe, jwk

from harness import SOFTHSM_MODULE, TOOL_TIMEOUT, expect_rpc_error, require_tool, verify_token
from helpers_it3 import Encryption, ProfileConfig, b64url, http_jwks, start_daemon

SHARED = {"partner-128": ("A128KW", 16), "partner-256": ("A256KW", 32)}
ENCS = ["A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512"]


def import_aes_key(token, directory, label, secret):
    """Write secret into token as an AES key that may wrap, with pkcs11-tool."""
    path = directory / f"{label.replace(':', '-')}.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(secret)
    argv = [require_tool("pkcs11-tool"), "--module", SOFTHSM_MODULE, "--token-label",
            token.label, "--login", "--pin", "env:HSMJWT_TEST_PKCS11_PIN",
            "--write-object", str(path), "--type", "secrkey",
            "--key-type", f"AES:{len(secret)}", "--label", label, "--usage-wrap", "--sensitive"]
    env = dict(os.environ, **token.env, HSMJWT_TEST_PKCS11_PIN=token.pin)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, env=env,
                                timeout=TOOL_TIMEOUT, check=False)
    finally:
        path.unlink()
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def shared(module_daemons, tmp_path_factory):
    directory = tmp_path_factory.mktemp("shared")
    token = module_daemons.token()
    secrets = {}
    recipients = {}
    for kid, (alg, length) in SHARED.items():
        secrets[kid] = os.urandom(length)
        import_aes_key(token, directory, f"hsmjwt-kw:{kid}", secrets[kid])
        path = directory / f"{kid}.jwk.json"
        path.write_text(json.dumps({"kty": "oct", "kid": kid, "alg": alg}))
        recipients[kid] = path
    # A recipient whose key was never imported, and one whose file contains the secret.
    (directory / "missing.jwk.json").write_text(
        json.dumps({"kty": "oct", "kid": "missing", "alg": "A256KW"}))
    recipients["missing"] = directory / "missing.jwk.json"
    (directory / "leaky.jwk.json").write_text(
        json.dumps({"kty": "oct", "kid": "partner-256", "k": b64url(os.urandom(32))}))
    recipients["leaky"] = directory / "leaky.jwk.json"

    profile = ProfileConfig("nested", "ES256",
                            encryption=Encryption(recipients=list(recipients), inline_recipients=True))
    daemon = start_daemon(module_daemons, profiles=[profile], token=token, recipients=recipients)
    return daemon, secrets


def sign_shared(daemon, recipient="", recipient_jwk_json="", alg="", enc=""):
    pb = daemon.stubs.hsmjwt
    encryption = pb.Encryption(recipient=recipient, recipient_jwk_json=recipient_jwk_json,
                               alg=alg, enc=enc)
    return daemon.client.sign(profile="nested", claims_json='{"sub":"shared"}',
                              encryption=encryption)


@pytest.mark.parametrize("enc", ENCS)
@pytest.mark.parametrize("kid", sorted(SHARED))
def test_shared_key_nested_decrypts(shared, kid, enc):
    daemon, secrets = shared
    alg = SHARED[kid][0]
    response = sign_shared(daemon, recipient=kid, alg=alg, enc=enc)
    token = jwe.JWE()
    token.deserialize(response.token, key=jwk.JWK(kty="oct", k=b64url(secrets[kid])))
    header = json.loads(token.objects["protected"])
    assert header == {"alg": alg, "enc": enc, "cty": "JWT", "kid": kid}
    inner = token.payload.decode()
    verify_token(inner, http_jwks(daemon), "ES256")


def test_shared_key_default_alg_from_jwk(shared):
    daemon, secrets = shared
    response = sign_shared(daemon, recipient="partner-128")
    token = jwe.JWE()
    token.deserialize(response.token, key=jwk.JWK(kty="oct", k=b64url(secrets["partner-128"])))
    assert json.loads(token.objects["protected"])["alg"] == "A128KW"


def test_shared_key_wrong_key_fails(shared):
    daemon, _ = shared
    response = sign_shared(daemon, recipient="partner-256", alg="A256KW")
    token = jwe.JWE()
    with pytest.raises(Exception):
        token.deserialize(response.token, key=jwk.JWK(kty="oct", k=b64url(os.urandom(32))))


def test_shared_key_missing_in_token(shared):
    daemon, _ = shared
    error = expect_rpc_error(sign_shared, daemon, recipient="missing", alg="A256KW")
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "hsmjwt-kw:missing" in error.details()


def test_shared_key_secret_in_file_rejected(shared):
    daemon, _ = shared
    error = expect_rpc_error(sign_shared, daemon, recipient="leaky", alg="A256KW")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert '"k"' in error.details()


def test_shared_key_inline_rejected(shared):
    daemon, _ = shared
    error = expect_rpc_error(sign_shared, daemon, alg="A256KW",
                             recipient_jwk_json='{"kty":"oct","kid":"partner-256"}')
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "configured recipient" in error.details()


def test_shared_key_length_must_match(shared):
    daemon, _ = shared
    error = expect_rpc_error(sign_shared, daemon, recipient="partner-256", alg="A128KW")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "A256KW" in error.details()
