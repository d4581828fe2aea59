"""Every JWS algorithm: one daemon with a profile per algorithm.

Asymmetric tokens are verified by jwcrypto against the HTTP JWKS. HMAC keys
are never published, so their tokens are checked through Verify.
"""

import json

import pytest
from jwcrypto import jwk

from harness import b64url_decode, parse_pairs, verify_token
from helpers_it3 import (ALL_ALGS, ASYMMETRIC_ALGS, HMAC_ALGS, ISSUER, ProfileConfig,
                         header_of, http_jwks, start_daemon, verify)

PROFILES = [ProfileConfig(alg.lower(), alg) for alg in ALL_ALGS]

# Number of ES512 tokens to sign. An ES512 signature is r || s, each padded
# to 66 bytes. The P-521 group order is about 2^521, so r or s starts with a
# zero byte in about 3 of 4 signatures and with two zero bytes in about 1 of
# 256 (estimates). 50 tokens meet the second case with a chance of about 1 in 5.
ES512_TOKENS = 50

# The JWK members that each algorithm's public key must have.
JWK_SHAPE = {
    "ES256": {"kty": "EC", "crv": "P-256"},
    "ES384": {"kty": "EC", "crv": "P-384"},
    "ES512": {"kty": "EC", "crv": "P-521"},
    "EdDSA": {"kty": "OKP", "crv": "Ed25519"},
    **{alg: {"kty": "RSA"} for alg in ASYMMETRIC_ALGS if alg[:2] in ("RS", "PS")},
}

# Length of the signature in bytes: JWS fixes it for ECDSA and EdDSA, and
# for RSA it is the 2048-bit modulus. HMAC output is the hash length.
SIGNATURE_BYTES = {
    "ES256": 64, "ES384": 96, "ES512": 132, "EdDSA": 64,
    **{alg: 256 for alg in ASYMMETRIC_ALGS if alg[:2] in ("RS", "PS")},
    "HS256": 32, "HS384": 48, "HS512": 64,
}


@pytest.fixture(scope="module")
def daemon(module_daemons):
    return start_daemon(module_daemons, profiles=PROFILES)


@pytest.fixture(scope="module")
def issued(daemon):
    """One SignResponse per algorithm, with claims {"sub": "<alg>-user"}."""
    return {alg: daemon.client.sign(profile=alg.lower(),
                                    claims_json=json.dumps({"sub": f"{alg}-user"}))
            for alg in ALL_ALGS}


@pytest.fixture(scope="module")
def jwks(daemon, issued):
    return http_jwks(daemon)


def jwks_member(jwks, kid):
    members = [member for member in jwks["keys"] if member["kid"] == kid]
    assert len(members) == 1, f"kid {kid} appears {len(members)} times in the JWKS"
    return members[0]


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_sign_verifies_with_jwcrypto(issued, jwks, alg):
    _, payload = verify_token(issued[alg].token, jwks, alg)
    claims = dict(parse_pairs(payload))
    assert claims["sub"] == f"{alg}-user"
    assert claims["iss"] == ISSUER


@pytest.mark.parametrize("alg", ALL_ALGS)
def test_sign_header(issued, alg):
    response = issued[alg]
    assert header_of(response.token) == {"alg": alg, "kid": response.kid, "typ": "JWT"}
    assert response.alg == alg


@pytest.mark.parametrize("alg", ALL_ALGS)
def test_sign_signature_length(issued, alg):
    signature = b64url_decode(issued[alg].token.split(".")[2])
    assert len(signature) == SIGNATURE_BYTES[alg]


@pytest.mark.parametrize("alg", ALL_ALGS)
def test_verify_valid(daemon, issued, alg):
    response = issued[alg]
    result = verify(daemon, response.token)
    assert result.valid, result.reason
    assert result.reason == ""
    assert result.kid == response.kid
    assert result.alg == alg
    assert json.loads(result.claims_json)["sub"] == f"{alg}-user"


@pytest.mark.parametrize("alg", ALL_ALGS)
def test_verify_valid_with_profile(daemon, issued, alg):
    result = verify(daemon, issued[alg].token, profile=alg.lower())
    assert result.valid, result.reason


@pytest.mark.parametrize("alg", HMAC_ALGS)
def test_hmac_kid_not_published(issued, jwks, alg):
    assert issued[alg].kid not in {member["kid"] for member in jwks["keys"]}


def test_jwks_has_no_secret_keys(jwks):
    assert [member for member in jwks["keys"] if member["kty"] == "oct"] == []


def test_jwks_one_key_per_asymmetric_alg(jwks):
    assert sorted(member["alg"] for member in jwks["keys"]) == sorted(ASYMMETRIC_ALGS)


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_jwks_member_shape(issued, jwks, alg):
    member = jwks_member(jwks, issued[alg].kid)
    assert member["use"] == "sig"
    assert member["alg"] == alg
    for name, value in JWK_SHAPE[alg].items():
        assert member[name] == value, name
    if member["kty"] == "RSA":
        assert member["e"] == "AQAB"
        assert len(b64url_decode(member["n"])) == 256


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_jwks_kid_is_thumbprint(issued, jwks, alg):
    member = jwks_member(jwks, issued[alg].kid)
    assert jwk.JWK(**member).thumbprint() == member["kid"]


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_jwks_member_is_public(issued, jwks, alg):
    member = jwks_member(jwks, issued[alg].kid)
    assert set(member) & {"d", "p", "q", "dp", "dq", "qi", "k"} == set()


@pytest.fixture(scope="module")
def es512_tokens(daemon):
    return [daemon.client.sign(profile="es512", claims_json=json.dumps({"n": index})).token
            for index in range(ES512_TOKENS)]


def test_es512_many_tokens_verify(es512_tokens, jwks):
    """Every ES512 signature verifies, including those whose r or s needs a leading zero."""
    failures = []
    for index, token in enumerate(es512_tokens):
        # jwcrypto raises several exception types, and each failure is listed.
        try:
            verify_token(token, jwks, "ES512")
        except Exception as error:
            failures.append(f"token {index}: {type(error).__name__}: {error}")
    assert failures == []


def test_es512_many_tokens_fixed_length(es512_tokens):
    lengths = {len(b64url_decode(token.split(".")[2])) for token in es512_tokens}
    assert lengths == {132}


def test_es512_many_tokens_verify_service(daemon, es512_tokens):
    invalid = [f"token {index}: {result.reason}"
               for index, result in enumerate(verify(daemon, token) for token in es512_tokens)
               if not result.valid]
    assert invalid == []
