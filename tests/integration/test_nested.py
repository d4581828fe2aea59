"""Nested JWTs: Sign with encryption, decrypted by jwcrypto, inner JWS verified against the JWKS.

Recipient keys are made by jwcrypto in the test: RSA-2048 for RSA-OAEP and
RSA-OAEP-256, and EC P-256, P-384, P-521 and OKP X25519 for ECDH-ES with
and without key wrapping. Every pair of key management algorithm and
content encryption algorithm is tried once per recipient key.
"""

import json

import grpc

import pytest
from jwcrypto import jwe, jwk

from harness import b64url_decode, expect_rpc_error, parse_pairs, verify_token
from helpers_it3 import (Encryption, ProfileConfig, b64url, header_of, http_jwks, run_cli,
                         start_daemon)

RSA_ALGS = ["RSA-OAEP", "RSA-OAEP-256"]
ECDH_ALGS = ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"]
ENCS = ["A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"]

# Recipient keys by name: the arguments of jwk.JWK.generate.
RECIPIENT_KEYS = {
    "rsa-2048": {"kty": "RSA", "size": 2048},
    "ec-p256": {"kty": "EC", "crv": "P-256"},
    "ec-p384": {"kty": "EC", "crv": "P-384"},
    "ec-p521": {"kty": "EC", "crv": "P-521"},
    "okp-x25519": {"kty": "OKP", "crv": "X25519"},
}
CASES = [(name, alg, enc)
         for name, params in RECIPIENT_KEYS.items()
         for alg in (RSA_ALGS if params["kty"] == "RSA" else ECDH_ALGS)
         for enc in ENCS]

PROFILES = [
    ProfileConfig("nested", "ES256",
                  encryption=Encryption(recipients=["partner-jwk", "partner-set"],
                                        inline_recipients=True)),
    ProfileConfig("named-only", "ES256", encryption=Encryption(recipients=["partner-jwk"])),
    ProfileConfig("plain", "ES256"),
    ProfileConfig("required", "ES256",
                  encryption=Encryption(inline_recipients=True, required=True)),
]


def case_id(case):
    return "/".join(case)


@pytest.fixture(scope="module")
def recipient_keys():
    """Private JWKs by name, each with the kid "recipient-<name>"."""
    return {name: jwk.JWK.generate(kid=f"recipient-{name}", **params)
            for name, params in RECIPIENT_KEYS.items()}


@pytest.fixture(scope="module")
def partners(tmp_path_factory):
    """Keys of the named recipients, and the files that the config names.

    partner-jwk is a file with one public JWK, partner-set a file with a
    JWK Set of one public key.
    """
    folder = tmp_path_factory.mktemp("recipients")
    keys = {
        "partner-jwk": jwk.JWK.generate(kty="EC", crv="P-256", kid="partner-jwk-1"),
        "partner-set": jwk.JWK.generate(kty="EC", crv="P-384", kid="partner-set-1"),
    }
    files = {"partner-jwk": folder / "partner.jwk", "partner-set": folder / "partner-set.jwks"}
    files["partner-jwk"].write_text(keys["partner-jwk"].export_public())
    files["partner-set"].write_text(
        json.dumps({"keys": [json.loads(keys["partner-set"].export_public())]}))
    return keys, files


@pytest.fixture(scope="module")
def daemon(module_daemons, partners):
    _, files = partners
    return start_daemon(module_daemons, profiles=PROFILES, recipients=files)


@pytest.fixture(scope="module")
def jwks(daemon):
    return http_jwks(daemon)


def sign_nested(daemon, profile="nested", claims="{}", **encryption):
    request = daemon.stubs.hsmjwt.Encryption(**encryption)
    return daemon.client.sign(profile=profile, claims_json=claims, encryption=request)


def decrypt(token, key):
    """Decrypt a compact JWE with jwcrypto and return the plaintext bytes."""
    message = jwe.JWE()
    message.deserialize(token, key=key)
    return message.payload


@pytest.fixture(scope="module")
def issued(daemon, recipient_keys):
    """One nested token per case, signed on first use."""
    tokens = {}

    def get(case):
        if case not in tokens:
            name, alg, enc = case
            response = sign_nested(daemon, claims=json.dumps({"sub": case_id(case)}),
                                   recipient_jwk_json=recipient_keys[name].export_public(),
                                   alg=alg, enc=enc)
            tokens[case] = response
        return tokens[case]

    return get


# --- every alg x enc pair to inline recipients ---

@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_nested_inline_decrypts_and_verifies(issued, recipient_keys, jwks, case):
    name, _, _ = case
    response = issued(case)
    inner = decrypt(response.token, recipient_keys[name]).decode()
    _, payload = verify_token(inner, jwks, "ES256")
    assert dict(parse_pairs(payload))["sub"] == case_id(case)
    assert header_of(inner)["kid"] == response.kid


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_nested_inline_header(issued, case):
    name, alg, enc = case
    header = header_of(issued(case).token)
    expected = {"alg": alg, "enc": enc, "cty": "JWT", "kid": f"recipient-{name}"}
    epk = header.pop("epk", None)
    assert header == expected
    if alg.startswith("ECDH-ES"):
        assert epk is not None, "ECDH-ES header without epk"
        assert epk["kty"] == RECIPIENT_KEYS[name]["kty"]
        assert epk["crv"] == RECIPIENT_KEYS[name]["crv"]
        assert "d" not in epk
    else:
        assert epk is None


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_nested_inline_five_parts(issued, case):
    name, alg, _ = case
    parts = issued(case).token.split(".")
    assert len(parts) == 5
    # ECDH-ES without key wrapping uses the derived key directly, so the
    # encrypted key is empty; every other algorithm sends one.
    assert (parts[1] == "") == (alg == "ECDH-ES")


def test_nested_recipient_without_kid(daemon, jwks):
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    response = sign_nested(daemon, recipient_jwk_json=key.export_public(),
                           alg="ECDH-ES+A256KW", enc="A256GCM")
    assert "kid" not in header_of(response.token)
    verify_token(decrypt(response.token, key).decode(), jwks, "ES256")


def test_nested_response_fields(daemon, recipient_keys):
    response = sign_nested(daemon, recipient_jwk_json=recipient_keys["ec-p256"].export_public(),
                           alg="ECDH-ES", enc="A256GCM")
    inner = decrypt(response.token, recipient_keys["ec-p256"]).decode()
    claims = dict(parse_pairs(b64url_decode(inner.split(".")[1])))
    assert response.alg == "ES256"
    assert response.jti == claims["jti"]
    assert response.expires_at == claims["exp"]


# --- named recipients from jwk_file ---

@pytest.mark.parametrize("name,kid", [("partner-jwk", "partner-jwk-1"),
                                      ("partner-set", "partner-set-1")])
def test_nested_named_recipient(daemon, partners, jwks, name, kid):
    keys, _ = partners
    response = sign_nested(daemon, recipient=name, alg="ECDH-ES+A128KW", enc="A128GCM")
    assert header_of(response.token)["kid"] == kid
    verify_token(decrypt(response.token, keys[name]).decode(), jwks, "ES256")


def test_nested_named_only_profile(daemon, partners, jwks):
    keys, _ = partners
    response = sign_nested(daemon, profile="named-only", recipient="partner-jwk",
                           alg="ECDH-ES", enc="A256CBC-HS512")
    verify_token(decrypt(response.token, keys["partner-jwk"]).decode(), jwks, "ES256")


# --- the CLI ---

def test_cli_encrypt_to_file(daemon, recipient_keys, jwks, tmp_path):
    path = tmp_path / "recipient.jwk"
    path.write_text(recipient_keys["rsa-2048"].export_public())
    result = run_cli("--server", daemon.grpc_target, "sign", "--profile", "nested",
                     "--encrypt-to", str(path), "--enc-alg", "RSA-OAEP-256", "--enc", "A256GCM")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert header_of(token)["alg"] == "RSA-OAEP-256"
    verify_token(decrypt(token, recipient_keys["rsa-2048"]).decode(), jwks, "ES256")


def test_cli_named_recipient(daemon, partners, jwks):
    keys, _ = partners
    result = run_cli("--server", daemon.grpc_target, "sign", "--profile", "nested",
                     "--recipient", "partner-set", "--enc-alg", "ECDH-ES+A256KW",
                     "--enc", "A192CBC-HS384")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert header_of(token)["enc"] == "A192CBC-HS384"
    verify_token(decrypt(token, keys["partner-set"]).decode(), jwks, "ES256")


# --- bad recipients and refusals ---

def off_curve_jwk():
    """A P-256 public JWK whose y coordinate is changed, so the point is not on the curve."""
    public = json.loads(jwk.JWK.generate(kty="EC", crv="P-256").export_public())
    y = bytearray(b64url_decode(public["y"]))
    y[-1] ^= 0x01
    public["y"] = b64url(bytes(y))
    return json.dumps(public)


def x25519_zero_jwk():
    """An X25519 public key of all zeros, a point of small order."""
    return json.dumps({"kty": "OKP", "crv": "X25519", "x": b64url(bytes(32))})


def public_json(**params):
    return jwk.JWK.generate(**params).export_public()


FIELD = "encryption.recipient_jwk_json"
# (id, function that returns the recipient JWK text, alg, enc, words the message must contain)
BAD_RECIPIENTS = [
    ("off-curve point", off_curve_jwk, "ECDH-ES", "A256GCM", [FIELD, "curve"]),
    ("x25519 small order", x25519_zero_jwk, "ECDH-ES", "A256GCM", []),
    ("private d", lambda: jwk.JWK.generate(kty="EC", crv="P-256").export_private(),
     "ECDH-ES", "A256GCM", [FIELD, '"d"']),
    ("private rsa", lambda: jwk.JWK.generate(kty="RSA", size=2048).export_private(),
     "RSA-OAEP-256", "A256GCM", [FIELD, '"d"']),
    ("rsa-1024", lambda: public_json(kty="RSA", size=1024), "RSA-OAEP-256", "A256GCM",
     [FIELD, "1024", "2048"]),
    ("rsa with ECDH-ES", lambda: public_json(kty="RSA", size=2048), "ECDH-ES", "A256GCM",
     [FIELD, "ECDH-ES"]),
    ("ec with RSA-OAEP", lambda: public_json(kty="EC", crv="P-256"), "RSA-OAEP", "A256GCM",
     [FIELD, "RSA-OAEP"]),
    ("ed25519 key", lambda: public_json(kty="OKP", crv="Ed25519"), "ECDH-ES", "A256GCM",
     [FIELD, "Ed25519"]),
    ("not json", lambda: "{not json", "ECDH-ES", "A256GCM", [FIELD, "JSON"]),
    ("not an object", lambda: "[1, 2]", "ECDH-ES", "A256GCM", [FIELD, "object"]),
    ("unknown enc", lambda: public_json(kty="EC", crv="P-256"), "ECDH-ES", "A512GCM",
     ["A512GCM"]),
    ("RSA1_5", lambda: public_json(kty="RSA", size=2048), "RSA1_5", "A256GCM", ["RSA1_5"]),
    ("dir", lambda: json.dumps({"kty": "oct", "k": b64url(bytes(32))}), "dir", "A256GCM",
     ["dir"]),
    ("unknown alg", lambda: public_json(kty="EC", crv="P-256"), "ECDH-ES+A512KW", "A256GCM",
     ["ECDH-ES+A512KW"]),
    ("A128KW", lambda: json.dumps({"kty": "oct", "k": b64url(bytes(16))}), "A128KW",
     "A256GCM", ["encryption.recipient_jwk_json", "A128KW", "configured recipient"]),
    ("A256KW", lambda: json.dumps({"kty": "oct", "k": b64url(bytes(32))}), "A256KW",
     "A256GCM", ["encryption.recipient_jwk_json", "A256KW", "configured recipient"]),
]


@pytest.mark.parametrize("case", BAD_RECIPIENTS, ids=lambda case: case[0])
def test_nested_bad_recipient(daemon, case):
    _, make_jwk, alg, enc, words = case
    error = expect_rpc_error(sign_nested, daemon, recipient_jwk_json=make_jwk(), alg=alg,
                             enc=enc)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    for word in words:
        assert word in error.details(), word


def test_nested_small_order_message_names_field(daemon):
    error = expect_rpc_error(sign_nested, daemon, recipient_jwk_json=x25519_zero_jwk(),
                             alg="ECDH-ES", enc="A256GCM")
    assert FIELD in error.details()


@pytest.mark.parametrize("alg,enc,field", [("RSA1_5", "A256GCM", "encryption.alg"),
                                           ("ECDH-ES", "A512GCM", "encryption.enc")])
def test_nested_unsupported_alg_names_field(daemon, recipient_keys, alg, enc, field):
    key = recipient_keys["rsa-2048" if alg.startswith("RSA") else "ec-p256"]
    error = expect_rpc_error(sign_nested, daemon, recipient_jwk_json=key.export_public(),
                             alg=alg, enc=enc)
    assert field in error.details()


def test_nested_unknown_named_recipient(daemon):
    error = expect_rpc_error(sign_nested, daemon, recipient="no-such-partner",
                             alg="ECDH-ES", enc="A256GCM")
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "no-such-partner" in error.details()


def test_nested_recipient_not_allowed_for_profile(daemon):
    error = expect_rpc_error(sign_nested, daemon, profile="named-only", recipient="partner-set",
                             alg="ECDH-ES", enc="A256GCM")
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_nested_profile_without_encryption(daemon, recipient_keys):
    error = expect_rpc_error(sign_nested, daemon, profile="plain",
                             recipient_jwk_json=recipient_keys["ec-p256"].export_public(),
                             alg="ECDH-ES", enc="A256GCM")
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "plain" in error.details()


def test_nested_inline_not_allowed(daemon, recipient_keys):
    error = expect_rpc_error(sign_nested, daemon, profile="named-only",
                             recipient_jwk_json=recipient_keys["ec-p256"].export_public(),
                             alg="ECDH-ES", enc="A256GCM")
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "inline" in error.details()


def test_required_profile_rejects_plain_sign(daemon):
    error = expect_rpc_error(daemon.client.sign, profile="required", claims_json="{}")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "encryption" in error.details()


def test_required_profile_accepts_nested(daemon, recipient_keys, jwks):
    response = sign_nested(daemon, profile="required",
                           recipient_jwk_json=recipient_keys["ec-p521"].export_public(),
                           alg="ECDH-ES+A256KW", enc="A256GCM")
    verify_token(decrypt(response.token, recipient_keys["ec-p521"]).decode(), jwks, "ES256")
