"""Sign with ES256, RS256 and PS256 and verify the tokens against both JWKS endpoints."""

import json
import re
import time

import grpc
import pytest
from jwcrypto import jwk
from jwcrypto.common import JWException, base64url_encode

from harness import (JTI_PATTERN, Profile, b64url_decode, expect_rpc_error, http_get,
                     parse_pairs, payload_of, verify_token)

ISSUER = "https://tokens.test.internal"
PRE_PUBLISH = 600
PROFILES = [
    Profile("es256", "ES256", ttl=300, max_ttl=3600),
    Profile("rs256", "RS256", ttl=300, max_ttl=3600),
    Profile("ps256", "PS256", ttl=300, max_ttl=3600),
]
ALGS = [(profile.name, profile.alg) for profile in PROFILES]
TTL = {profile.name: profile.ttl for profile in PROFILES}
MAX_TTL = {profile.name: profile.max_ttl for profile in PROFILES}

# Members out of alphabetical order, and an integer beyond 64 bits that a
# parser built on doubles would round.
CLAIMS = '{"sub":"user-42","n":123456789012345678901234567890,"scope":["read","write"],"ctx":{"z":1,"a":2}}'
CLAIM_NAMES = ["sub", "n", "scope", "ctx"]
REGISTERED_NAMES = ["iss", "iat", "exp", "jti"]


@pytest.fixture(scope="module")
def daemon(module_daemons):
    return module_daemons.start(profiles=PROFILES, issuer=ISSUER, pre_publish=f"{PRE_PUBLISH}s")


@pytest.fixture(scope="module")
def http_jwks(daemon):
    status, _, body = http_get(daemon.http_base + "/.well-known/jwks.json")
    assert status == 200
    return json.loads(body)


def sign(daemon, profile, **fields):
    return daemon.client.sign(profile=profile, claims_json=fields.pop("claims_json", CLAIMS), **fields)


@pytest.mark.parametrize("profile,alg", ALGS)
def test_sign_verifies_against_grpc_jwks(daemon, profile, alg):
    response = sign(daemon, profile)
    verify_token(response.token, daemon.client.jwks(), alg)


@pytest.mark.parametrize("profile,alg", ALGS)
def test_sign_verifies_against_http_jwks(daemon, http_jwks, profile, alg):
    response = sign(daemon, profile)
    verify_token(response.token, http_jwks, alg)


@pytest.mark.parametrize("profile,alg", ALGS)
def test_sign_header_exact(daemon, profile, alg):
    response = sign(daemon, profile)
    header, _ = verify_token(response.token, daemon.client.jwks(), alg)
    expected = json.dumps({"alg": alg, "kid": response.kid, "typ": "JWT"}, separators=(",", ":"))
    assert header == expected.encode()
    assert response.alg == alg


@pytest.mark.parametrize("profile,alg", ALGS)
def test_sign_registered_claims(daemon, profile, alg):
    before = int(time.time())
    response = sign(daemon, profile)
    after = int(time.time())
    _, payload = verify_token(response.token, daemon.client.jwks(), alg)
    claims = dict(parse_pairs(payload))

    assert claims["iss"] == ISSUER
    assert before <= claims["iat"] <= after
    assert claims["exp"] == claims["iat"] + TTL[profile]
    assert JTI_PATTERN.fullmatch(claims["jti"])
    assert "nbf" not in claims
    assert response.issued_at == claims["iat"]
    assert response.expires_at == claims["exp"]
    assert response.jti == claims["jti"]


@pytest.mark.parametrize("profile,alg", ALGS)
def test_sign_keeps_members_in_order(daemon, profile, alg):
    response = sign(daemon, profile)
    _, payload = verify_token(response.token, daemon.client.jwks(), alg)
    names = [name for name, _ in parse_pairs(payload)]
    assert names == CLAIM_NAMES + REGISTERED_NAMES


@pytest.mark.parametrize("profile,alg", ALGS)
def test_sign_keeps_member_text(daemon, profile, alg):
    response = sign(daemon, profile)
    _, payload = verify_token(response.token, daemon.client.jwks(), alg)
    assert payload.startswith(CLAIMS[:-1].encode() + b",")
    assert b'"n":123456789012345678901234567890,' in payload


def test_sign_keeps_exotic_member_text(daemon):
    # Exact text: escapes, a trailing zero, an exponent and a surrogate pair
    # stay as the caller wrote them.
    claims = (r'{"e":"\u00e9t\u00e9 \/ \"q\"","d":2.50,"x":-1.0E-2,"s":"\ud83d\ude00",'
              r'"u":"h' '\u00e9' r'llo","empty":{},"list":[]}')
    response = sign(daemon, "es256", claims_json=claims)
    payload = payload_of(response.token)
    assert payload.startswith(claims[:-1].encode() + b",")


def test_sign_empty_claims_object(daemon):
    response = sign(daemon, "es256", claims_json="{}")
    names = [name for name, _ in parse_pairs(payload_of(response.token))]
    assert names == REGISTERED_NAMES


def test_sign_ttl_from_request(daemon):
    response = sign(daemon, "es256", ttl_seconds=120)
    claims = dict(parse_pairs(payload_of(response.token)))
    assert claims["exp"] == claims["iat"] + 120


def test_sign_ttl_equal_to_max(daemon):
    response = sign(daemon, "es256", ttl_seconds=MAX_TTL["es256"])
    claims = dict(parse_pairs(payload_of(response.token)))
    assert claims["exp"] == claims["iat"] + MAX_TTL["es256"]


def test_sign_one_audience_is_string(daemon):
    response = sign(daemon, "es256", audience=["billing"])
    pairs = parse_pairs(payload_of(response.token))
    assert [name for name, _ in pairs] == CLAIM_NAMES + ["aud"] + REGISTERED_NAMES
    assert dict(pairs)["aud"] == "billing"


def test_sign_two_audiences_are_array(daemon):
    response = sign(daemon, "es256", audience=["billing", "search"])
    pairs = parse_pairs(payload_of(response.token))
    assert [name for name, _ in pairs] == CLAIM_NAMES + ["aud"] + REGISTERED_NAMES
    assert dict(pairs)["aud"] == ["billing", "search"]


def test_sign_audience_in_claims_kept(daemon):
    response = sign(daemon, "es256", claims_json='{"aud":"billing","sub":"s"}')
    pairs = parse_pairs(payload_of(response.token))
    assert [name for name, _ in pairs] == ["aud", "sub"] + REGISTERED_NAMES
    assert dict(pairs)["aud"] == "billing"


def test_sign_jti_unique(daemon):
    jtis = {sign(daemon, "es256").jti for _ in range(20)}
    assert len(jtis) == 20


def test_sign_tampered_token_rejected(daemon):
    # Guards verify_token itself: a changed payload must not verify.
    token = sign(daemon, "es256").token
    header, payload, signature = token.split(".")
    claims = payload_of(token).replace(b"user-42", b"user-43")
    forged = ".".join([header, base64url_encode(claims), signature])
    assert forged != token
    with pytest.raises(JWException):
        verify_token(forged, daemon.client.jwks(), "ES256")


def test_sign_empty_profile_without_default(daemon):
    error = expect_rpc_error(daemon.client.sign, claims_json=CLAIMS)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "profile" in error.details()


@pytest.mark.parametrize("source", ["grpc", "http"])
def test_jwks_kid_is_thumbprint(daemon, http_jwks, source):
    jwks = daemon.client.jwks() if source == "grpc" else http_jwks
    assert jwks["keys"]
    for member in jwks["keys"]:
        assert member["kid"] == jwk.JWK(**member).thumbprint()


@pytest.mark.parametrize("source", ["grpc", "http"])
def test_jwks_has_no_private_members(daemon, http_jwks, source):
    jwks = daemon.client.jwks() if source == "grpc" else http_jwks
    for member in jwks["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi", "oth", "k"} & set(member)


def test_jwks_one_key_per_alg(daemon):
    kids = {alg: sign(daemon, profile).kid for profile, alg in ALGS}
    jwks = daemon.client.jwks()
    assert len(set(kids.values())) == len(ALGS)
    assert sorted(member["kid"] for member in jwks["keys"]) == sorted(kids.values())


def test_jwks_key_types(daemon):
    by_kid = {member["kid"]: member for member in daemon.client.jwks()["keys"]}
    for profile, alg in ALGS:
        member = by_kid[sign(daemon, profile).kid]
        if alg == "ES256":
            assert member["kty"] == "EC"
            assert member["crv"] == "P-256"
        else:
            assert member["kty"] == "RSA"
            assert len(b64url_decode(member["n"])) >= 256
        assert member.get("alg", alg) == alg
        assert member.get("use", "sig") == "sig"


def test_jwks_http_matches_grpc(daemon, http_jwks):
    grpc_keys = sorted(daemon.client.jwks()["keys"], key=lambda member: member["kid"])
    http_keys = sorted(http_jwks["keys"], key=lambda member: member["kid"])
    assert http_keys == grpc_keys


def test_jwks_http_content_type(daemon):
    _, headers, _ = http_get(daemon.http_base + "/.well-known/jwks.json")
    assert "json" in headers.get("Content-Type", "")


def test_jwks_http_cache_control(daemon):
    _, headers, _ = http_get(daemon.http_base + "/.well-known/jwks.json")
    match = re.search(r"max-age=(\d+)", headers.get("Cache-Control", ""))
    assert match, f"Cache-Control is {headers.get('Cache-Control')!r}"
    assert 0 < int(match.group(1)) <= PRE_PUBLISH


def test_jwks_http_etag_not_modified(daemon):
    url = daemon.http_base + "/.well-known/jwks.json"
    _, headers, _ = http_get(url)
    etag = headers.get("ETag")
    assert etag
    status, headers_304, body = http_get(url, {"If-None-Match": etag})
    assert status == 304
    assert body == b""
    assert headers_304.get("ETag") == etag


def test_jwks_http_etag_mismatch(daemon):
    url = daemon.http_base + "/.well-known/jwks.json"
    status, _, body = http_get(url, {"If-None-Match": '"not-the-etag"'})
    assert status == 200
    assert json.loads(body)["keys"]


def test_jwks_http_etag_stable(daemon):
    url = daemon.http_base + "/.well-known/jwks.json"
    first = http_get(url)[1].get("ETag")
    second = http_get(url)[1].get("ETag")
    assert first == second


def test_http_unknown_path_not_found(daemon):
    status, _, _ = http_get(daemon.http_base + "/no-such-path")
    assert status == 404
