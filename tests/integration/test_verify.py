"""TokenService.Verify: every way a token is invalid, and the request errors.

The rs256 profile signs with an RSA key that the test made and imported into
the token, so the test can sign tokens that are correct in every respect but
the one under test. test_verify_control_known_key_token checks that such a
token without a fault is valid.
"""

import hashlib
import hmac
import json
import secrets
import time

import grpc
import pytest
from jwcrypto import jwe, jwk

from harness import b64url_decode, expect_rpc_error
from helpers_it3 import (ISSUER, KnownRsaKey, ProfileConfig, b64url, b64url_json, header_of,
                         start_daemon, verify, wait_for)

# ttl of the short profile in seconds. With clock_skew 0 a token is expired
# once the clock reaches exp. It is 2 s, not 1 s, because a token signed just
# before a second boundary would already be expired when the control Verify runs.
SHORT_TTL = 2

PROFILES = [
    ProfileConfig("default", "ES256", audiences=["billing", "search"]),
    ProfileConfig("rs256", "RS256"),
    ProfileConfig("ps256", "PS256"),
    ProfileConfig("short", "ES256", ttl=f"{SHORT_TTL}s", max_ttl=f"{SHORT_TTL}s"),
]


@pytest.fixture(scope="module")
def known_key():
    return KnownRsaKey()


@pytest.fixture(scope="module")
def daemon(module_daemons, known_key, tmp_path_factory):
    token = module_daemons.token()
    known_key.import_into(token, tmp_path_factory.mktemp("known-key"))
    return start_daemon(module_daemons, token=token, profiles=PROFILES,
                        keys={"clock_skew": "0s"})


@pytest.fixture(scope="module")
def rs256_kid(daemon, known_key):
    """The kid of the imported key, which the daemon adopted for RS256."""
    kid = daemon.client.sign(profile="rs256", claims_json="{}").kid
    public = jwk.JWK.from_pem(known_key.public_pem())
    assert kid == public.thumbprint(), "the rs256 profile does not sign with the imported key"
    return kid


def fresh_claims():
    now = int(time.time())
    return {"sub": "user-42", "iss": ISSUER, "iat": now, "exp": now + 300,
            "jti": b64url(secrets.token_bytes(16))}


def es256_token(daemon, **fields):
    return daemon.client.sign(profile="default", claims_json='{"sub":"user-42"}', **fields).token


def assert_invalid(result):
    """Check that Verify found the token invalid with a reason and returned no claims."""
    assert result.valid is False
    assert result.reason != ""
    assert result.claims_json == ""


def replace_segment(token, index, value):
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def flip_middle_char(segment):
    middle = len(segment) // 2
    replacement = "A" if segment[middle] != "A" else "B"
    return segment[:middle] + replacement + segment[middle + 1:]


# --- controls ---

def test_verify_control_service_token(daemon):
    result = verify(daemon, es256_token(daemon))
    assert result.valid, result.reason


def test_verify_control_known_key_token(daemon, known_key, rs256_kid):
    token = known_key.sign_compact({"alg": "RS256", "kid": rs256_kid, "typ": "JWT"},
                                   fresh_claims(), "RS256")
    result = verify(daemon, token)
    assert result.valid, result.reason
    assert result.kid == rs256_kid


# --- tokens that are invalid ---

def test_verify_tampered_payload(daemon):
    token = es256_token(daemon)
    claims = json.loads(b64url_decode(token.split(".")[1]))
    claims["sub"] = "someone-else"
    result = verify(daemon, replace_segment(token, 1, b64url_json(claims)))
    assert_invalid(result)
    assert "signature" in result.reason


def test_verify_tampered_signature(daemon):
    token = es256_token(daemon)
    result = verify(daemon, replace_segment(token, 2, flip_middle_char(token.split(".")[2])))
    assert_invalid(result)
    assert "signature" in result.reason


def test_verify_header_alg_changed(daemon):
    """An RS256 token whose header says PS256, with the signature unchanged."""
    token = daemon.client.sign(profile="rs256", claims_json="{}").token
    header = header_of(token)
    header["alg"] = "PS256"
    result = verify(daemon, replace_segment(token, 0, b64url_json(header)))
    assert_invalid(result)
    assert "PS256" in result.reason


def test_verify_wrong_alg_for_kid(daemon, known_key, rs256_kid):
    """A correct PS256 signature made with the key that the daemon holds for RS256."""
    token = known_key.sign_compact({"alg": "PS256", "kid": rs256_kid, "typ": "JWT"},
                                   fresh_claims(), "PS256")
    result = verify(daemon, token)
    assert_invalid(result)
    assert "PS256" in result.reason


def test_verify_alg_none(daemon, rs256_kid):
    token = f"{b64url_json({'alg': 'none', 'kid': rs256_kid})}.{b64url_json(fresh_claims())}."
    result = verify(daemon, token)
    assert_invalid(result)
    assert "none" in result.reason


def test_verify_alg_none_no_kid(daemon):
    token = f"{b64url_json({'alg': 'none'})}.{b64url_json(fresh_claims())}."
    result = verify(daemon, token)
    assert_invalid(result)
    assert "none" in result.reason


def hs256_confusion_keys(known_key):
    """The public key of the RS256 kid in the forms an HMAC confusion attack uses as a secret."""
    public = jwk.JWK.from_pem(known_key.public_pem())
    return {
        "pem": known_key.public_pem(),
        "der": known_key.public_der(),
        "jwk-json": public.export_public().encode(),
        "modulus": b64url_decode(json.loads(public.export_public())["n"]),
    }


@pytest.mark.parametrize("form", ["pem", "der", "jwk-json", "modulus"])
def test_verify_hs256_with_public_key(daemon, known_key, rs256_kid, form):
    secret = hs256_confusion_keys(known_key)[form]
    signing_input = f"{b64url_json({'alg': 'HS256', 'kid': rs256_kid, 'typ': 'JWT'})}." \
                    f"{b64url_json(fresh_claims())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    result = verify(daemon, f"{signing_input}.{b64url(mac)}")
    assert_invalid(result)
    assert "HS256" in result.reason


def test_verify_expired(daemon):
    response = daemon.client.sign(profile="short", claims_json="{}")
    assert verify(daemon, response.token).valid, "the short token was not valid at first"

    def invalid_result():
        result = verify(daemon, response.token)
        return None if result.valid else result

    # Verify returns invalid from the second exp on. A margin of 2 s covers a slow call.
    result = wait_for(invalid_result, timeout=SHORT_TTL + 2,
                      description="the short token to expire")
    assert time.time() >= response.expires_at
    assert_invalid(result)
    assert "exp" in result.reason


def test_verify_wrong_audience(daemon):
    token = es256_token(daemon, audience=["billing"])
    assert verify(daemon, token, audience="billing").valid
    result = verify(daemon, token, audience="search")
    assert_invalid(result)
    assert "aud" in result.reason


def test_verify_audience_missing_from_token(daemon):
    result = verify(daemon, es256_token(daemon), audience="billing")
    assert_invalid(result)


def test_verify_unknown_crit(daemon, known_key, rs256_kid):
    header = {"alg": "RS256", "kid": rs256_kid, "typ": "JWT", "crit": ["x-unknown"],
              "x-unknown": True}
    result = verify(daemon, known_key.sign_compact(header, fresh_claims(), "RS256"))
    assert_invalid(result)
    assert "crit" in result.reason


def test_verify_unknown_kid(daemon):
    token = es256_token(daemon)
    header = header_of(token)
    header["kid"] = b64url(secrets.token_bytes(32))
    result = verify(daemon, replace_segment(token, 0, b64url_json(header)))
    assert_invalid(result)
    assert "kid" in result.reason


def test_verify_wrong_issuer(daemon, known_key, rs256_kid):
    claims = dict(fresh_claims(), iss="https://elsewhere.test.internal")
    token = known_key.sign_compact({"alg": "RS256", "kid": rs256_kid, "typ": "JWT"}, claims,
                                   "RS256")
    result = verify(daemon, token)
    assert_invalid(result)
    assert "iss" in result.reason


@pytest.mark.parametrize("text", ["hello", "a.b", "a.b.c", "...", "a.b.c.d", "e30.e30.e30",
                                  "e30.e30.e30.e30.e30"])
def test_verify_not_a_jws(daemon, text):
    assert_invalid(verify(daemon, text))


def test_verify_signature_not_base64url(daemon):
    token = es256_token(daemon)
    assert_invalid(verify(daemon, replace_segment(token, 2, "!!!!")))


def test_verify_jwe(daemon):
    recipient = jwk.JWK.generate(kty="EC", crv="P-256")
    message = jwe.JWE(es256_token(daemon).encode(),
                      json.dumps({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JWT"}))
    message.add_recipient(recipient)
    assert_invalid(verify(daemon, message.serialize(compact=True)))


def test_verify_profile_alg_differs(daemon):
    token = es256_token(daemon)
    assert verify(daemon, token, profile="default").valid
    result = verify(daemon, token, profile="rs256")
    assert_invalid(result)
    assert "RS256" in result.reason


def test_verify_ps256_token_on_rs256_profile(daemon):
    token = daemon.client.sign(profile="ps256", claims_json="{}").token
    assert_invalid(verify(daemon, token, profile="rs256"))


# --- request errors ---

def test_verify_malformed_request(daemon):
    error = expect_rpc_error(daemon.client.call_raw, "/hsmjwt.v1.TokenService/Verify",
                             b"\x0a\xff\xff\xff")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_verify_empty_token(daemon):
    error = expect_rpc_error(verify, daemon, "")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "token" in error.details()


def test_verify_unknown_profile(daemon):
    error = expect_rpc_error(verify, daemon, es256_token(daemon), profile="no-such-profile")
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "profile" in error.details()
