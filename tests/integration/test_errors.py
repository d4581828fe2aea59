"""Bad Sign requests get the documented status code and a message that names the field.

The tests run in file order: the last one checks that the daemon still signs
after every bad request of the module.
"""

import re

import grpc
import pytest

from harness import (CLAIMS_MAX_BYTES, Profile, encode_sign_request, expect_rpc_error,
                     parse_pairs, payload_of, verify_token, SERVING)

Code = grpc.StatusCode

# A claim value that must never appear in an error message.
SECRET = "value-7f3kq9"

PROFILES = [
    Profile("default", "ES256", ttl=300, max_ttl=3600, audiences=["billing", "search"]),
    Profile("open", "ES256", ttl=300, max_ttl=3600),
]


def nested(depth):
    """Return a claim set whose nesting depth, counting the outer object, is depth."""
    return '{"a":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def padded(size):
    """Return a claim set of exactly size bytes."""
    return '{"pad":"' + "a" * (size - len('{"pad":""}')) + '"}'


# (id, SignRequest fields, status code, patterns that the message must contain)
CASES = [
    ("unknown profile", {"profile": "no-such-profile", "claims_json": "{}"},
     Code.NOT_FOUND, [r"profile"]),
    ("claims array", {"claims_json": "[]"}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims string", {"claims_json": '"x"'}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims number", {"claims_json": "1"}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims null", {"claims_json": "null"}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims truncated", {"claims_json": '{"a":"' + SECRET + '"'},
     Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims two objects", {"claims_json": "{}{}"}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims trailing text", {"claims_json": "{} x"}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims trailing comma", {"claims_json": '{"a":1,}'}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims single quotes", {"claims_json": "{'a':1}"}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims NaN", {"claims_json": '{"a":NaN}'}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims leading zero", {"claims_json": '{"a":01}'}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims raw newline", {"claims_json": '{"a":"x\ny"}'}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims NUL after object", b'{}\x00{"sub":"x"}', Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims raw NUL in string", b'{"a":"x\x00y"}', Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims bad escape", {"claims_json": r'{"a":"\x41"}'}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("duplicate member", {"claims_json": '{"a":"' + SECRET + '","a":2}'},
     Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("duplicate nested member", {"claims_json": '{"o":{"k":1,"k":2}}'},
     Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("duplicate escaped member", {"claims_json": r'{"a":1,"\u0061":2}'},
     Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("lone high surrogate", {"claims_json": r'{"a":"\ud800"}'}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("lone low surrogate", {"claims_json": r'{"a":"\udc00"}'}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("high surrogate then letter", {"claims_json": r'{"a":"\ud800\u0041"}'},
     Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("surrogate in member name", {"claims_json": r'{"\ud800":1}'}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("invalid UTF-8 byte", b'{"a":"\xff"}', Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("overlong UTF-8", b'{"a":"\xc0\xaf"}', Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("UTF-8 surrogate", b'{"a":"\xed\xa0\x80"}', Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("truncated UTF-8", b'{"a":"\xe2\x82"}', Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("UTF-8 above U+10FFFF", b'{"a":"\xf4\x90\x80\x80"}', Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("depth 33", {"claims_json": nested(33)}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("depth 30000", {"claims_json": nested(30000)}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("unclosed depth 60000", {"claims_json": '{"a":' + "[" * 60000}, Code.INVALID_ARGUMENT, [r"claims_json"]),
    ("claims over 64 KiB", {"claims_json": padded(CLAIMS_MAX_BYTES + 1)},
     Code.RESOURCE_EXHAUSTED, [r"claims_json"]),
    # gRPC's own message size limit rejects this one before the daemon reads a
    # field, so its message comes from gRPC and names no field.
    ("claims 1 MiB", {"claims_json": padded(1024 * 1024)}, Code.RESOURCE_EXHAUSTED, []),
    *[(f"claim {name}", {"claims_json": f'{{"sub":"s","{name}":"{SECRET}"}}'},
       Code.INVALID_ARGUMENT, [rf"\b{name}\b"]) for name in ["iss", "iat", "nbf", "exp", "jti"]],
    ("claim iat number", {"claims_json": '{"iat":1700000000}'}, Code.INVALID_ARGUMENT, [r"\biat\b"]),
    ("aud in claims and request", {"claims_json": '{"aud":"billing"}', "audience": ["billing"]},
     Code.INVALID_ARGUMENT, [r"aud"]),
    ("aud in claims not a string", {"claims_json": '{"aud":123}', "profile": "open"},
     Code.INVALID_ARGUMENT, [r"aud"]),
    ("aud in claims array of numbers", {"claims_json": '{"aud":[1,2]}', "profile": "open"},
     Code.INVALID_ARGUMENT, [r"aud"]),
    ("audience not allowed", {"claims_json": "{}", "audience": ["other-" + SECRET]},
     Code.PERMISSION_DENIED, [r"aud"]),
    ("second audience not allowed", {"claims_json": "{}", "audience": ["billing", "other"]},
     Code.PERMISSION_DENIED, [r"aud"]),
    ("aud claim not allowed", {"claims_json": '{"aud":"other"}'}, Code.PERMISSION_DENIED, [r"aud"]),
    ("aud claim array not allowed", {"claims_json": '{"aud":["billing","other"]}'},
     Code.PERMISSION_DENIED, [r"aud"]),
    ("ttl above max", {"claims_json": "{}", "ttl_seconds": 3601}, Code.INVALID_ARGUMENT, [r"ttl"]),
    ("ttl at uint32 max", {"claims_json": "{}", "ttl_seconds": 2**32 - 1}, Code.INVALID_ARGUMENT, [r"ttl"]),
    # A nested JWT needs a profile with an encryption block, which these lack.
    ("encryption", {"claims_json": "{}", "encryption": {"recipient": "partner-a",
                                                       "alg": "ECDH-ES+A256KW", "enc": "A256GCM"}},
     Code.PERMISSION_DENIED, [r"encryption"]),
    ("empty encryption", {"claims_json": "{}", "encryption": {}},
     Code.PERMISSION_DENIED, [r"encryption"]),
]

# Byte strings that are not a valid SignRequest encoding.
GARBAGE = [
    ("truncated varint", b"\x08\xff"),
    ("length past the end", b"\x12\x10abc"),
    ("wire type 7", b"\x0f"),
    ("overlong varint", b"\xff" * 16),
    ("length 2^32-1", b"\x12\xff\xff\xff\xff\x0fx"),
    ("wrong wire type for ttl_seconds", b"\x1a\x03abc"),
]

UNKNOWN_METHODS = [
    "/hsmjwt.v1.TokenService/NoSuchMethod",
    # KeyAdmin is served only on listen.admin, never on the TokenService port.
    "/hsmjwt.v1.KeyAdmin/ListKeys",
    "/grpc.health.v1.Health/Watch",
    "/no.such.Service/Method",
]


@pytest.fixture(scope="module")
def daemon(module_daemons):
    return module_daemons.start(profiles=PROFILES)


def call(daemon, request):
    if isinstance(request, bytes):
        return daemon.client.sign_raw(encode_sign_request(claims_json=request))
    fields = dict(request)
    if "encryption" in fields:
        fields["encryption"] = daemon.stubs.hsmjwt.Encryption(**fields["encryption"])
    return daemon.client.sign(**fields)


@pytest.mark.parametrize("request_fields,code,patterns",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_sign_rejects(daemon, request_fields, code, patterns):
    error = expect_rpc_error(call, daemon, request_fields)
    assert error.code() == code, error.details()
    for pattern in patterns:
        assert re.search(pattern, error.details()), f"{pattern!r} not in {error.details()!r}"
    assert SECRET not in error.details()


@pytest.mark.parametrize("payload", [case[1] for case in GARBAGE], ids=[case[0] for case in GARBAGE])
def test_sign_garbage_bytes(daemon, payload):
    error = expect_rpc_error(daemon.client.sign_raw, payload)
    assert error.code() == Code.INVALID_ARGUMENT, error.details()
    assert error.details()


@pytest.mark.parametrize("method", UNKNOWN_METHODS)
def test_unknown_method(daemon, method):
    error = expect_rpc_error(daemon.client.call_raw, method)
    assert error.code() == Code.UNIMPLEMENTED, error.details()


@pytest.mark.parametrize("claims", [
    nested(32),
    padded(CLAIMS_MAX_BYTES),
    r'{"s":"\ud83d\ude00"}',
    '{"s":"\U0001f600"}',
], ids=["depth 32", "exactly 64 KiB", "surrogate pair", "4-byte UTF-8"])
def test_sign_accepts_limit(daemon, claims):
    response = daemon.client.sign(claims_json=claims)
    assert payload_of(response.token).startswith(claims[:-1].encode())


def test_sign_empty_claims_is_empty_object(daemon):
    # proto3 cannot tell an empty claims_json from an absent one; both mean {}.
    response = daemon.client.sign(profile="open", claims_json="")
    names = [name for name, _ in parse_pairs(payload_of(response.token))]
    assert names == ["iss", "iat", "exp", "jti"]


@pytest.mark.parametrize("prefix", [b"\x0a\x00", b"\x18\x00"],
                         ids=["empty profile", "zero ttl_seconds"])
def test_sign_explicit_default_field(daemon, prefix):
    # Some encoders, such as protobufjs, send a proto3 field that contains its
    # default value (an empty string, a zero) instead of leaving it out.
    response = daemon.client.sign_raw(prefix + encode_sign_request(claims_json=b"{}"))
    assert response.alg == "ES256"


def test_sign_empty_profile_is_default(daemon):
    response = daemon.client.sign(claims_json="{}", audience=["search"])
    claims = dict(parse_pairs(payload_of(response.token)))
    assert response.alg == "ES256"
    assert claims["aud"] == "search"


def test_sign_after_bad_inputs(daemon):
    response = daemon.client.sign(claims_json='{"sub":"after"}', audience=["billing"])
    verify_token(response.token, daemon.client.jwks(), "ES256")
    assert daemon.client.health() == SERVING
