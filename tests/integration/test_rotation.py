"""Key rotation in real time, with durations of seconds, on one daemon and on two replicas.

The timeline daemon rotates ES256 through the CLI, lets the new key
activate and the old one leave the JWKS, destroys the old key, rotates
through gRPC and retires active keys immediately. Every token it issues
along the way must verify against the JWKS fetched when it was issued.
The replicas share one token and see each other's rotations within one
refresh.
"""

import json
import re
import time

import grpc
import pytest

from harness import expect_rpc_error, http_get, parse_pairs, payload_of, verify_token
from helpers_it3 import (ISSUER, ProfileConfig, admin_call, cli_json, header_of, http_jwks,
                         jwks_kids, list_keys, make_socket_dir, remove_socket_dir, start_daemon,
                         wait_for, wait_until_clock)

PRE_PUBLISH = 3
MAX_TTL = 3
CLOCK_SKEW = 0
REFRESH = 1
KEYS = {"pre_publish": f"{PRE_PUBLISH}s", "refresh": f"{REFRESH}s",
        "clock_skew": f"{CLOCK_SKEW}s"}
PROFILES = [
    ProfileConfig("default", "ES256", ttl=f"{MAX_TTL}s", max_ttl=f"{MAX_TTL}s"),
    ProfileConfig("eddsa", "EdDSA", ttl=f"{MAX_TTL}s", max_ttl=f"{MAX_TTL}s"),
]
# Margin in seconds for the daemon's work and the test's own calls on top
# of each deadline that the lifecycle rules set.
MARGIN = 2.0


@pytest.fixture(scope="module")
def socket_dir():
    path = make_socket_dir()
    yield path
    remove_socket_dir(path)


class Timeline:
    """Sign through one daemon and keep each token with the JWKS fetched just after it."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.issued = []

    def issue(self):
        response = self.daemon.client.sign(claims_json="{}")
        self.issued.append((response.token, http_jwks(self.daemon)))
        return response

    def issue_with(self, kid):
        """Sign one token and return its SignResponse when kid signed it, else None."""
        response = self.issue()
        return response if response.kid == kid else None


def keys_if_retired(daemon, kid):
    """Return ListKeys as {kid: Key} when kid is retired, else None."""
    keys = list_keys(daemon)
    return keys if keys[kid].state == daemon.stubs.hsmjwt.KEY_STATE_RETIRED else None


def iat_of(token):
    return dict(parse_pairs(payload_of(token)))["iat"]


def admin_cli(daemon, *args):
    return cli_json("--admin", daemon.admin_target, "keys", *args)


@pytest.fixture(scope="module")
def daemon(socket_dir, module_daemons):
    return start_daemon(module_daemons, profiles=PROFILES, socket_dir=socket_dir, keys=KEYS)


@pytest.fixture(scope="module")
def timeline(daemon):
    """Run the whole lifecycle once and record what the daemon did at each step."""
    pb = daemon.stubs.hsmjwt
    line = Timeline(daemon)
    seen = {}

    seen["kid0"] = line.issue().kid
    seen["rotated"] = admin_cli(daemon, "rotate", "--alg", "ES256")
    kid1 = seen["rotated"]["kid"]
    seen["jwks_before_activation"] = http_jwks(daemon)
    seen["kid_after_rotate"] = line.issue().kid
    seen["keys_after_rotate"] = list_keys(daemon)

    deadline = seen["rotated"]["activate_at"] - time.time() + MARGIN
    seen["first_new_token"] = wait_for(lambda: line.issue_with(kid1), deadline,
                                       "the rotated key to sign").token
    seen["jwks_after_activation"] = http_jwks(daemon)
    # NOTE: ListKeys returns the states computed at the last reload, so they
    # may lag the clock by up to keys.refresh. Sign switches keys on time.
    seen["keys_after_activation"] = wait_for(
        lambda: keys_if_retired(daemon, seen["kid0"]), REFRESH + MARGIN,
        "ListKeys to show the old key retired")
    seen["destroy_early"] = expect_rpc_error(admin_call, daemon, "DestroyKey",
                                             pb.DestroyKeyRequest(kid=seen["kid0"])).code()

    unpublish_at = seen["keys_after_activation"][seen["kid0"]].unpublish_at
    deadline = unpublish_at - time.time() + REFRESH + MARGIN
    wait_for(lambda: seen["kid0"] not in jwks_kids(http_jwks(daemon)), deadline,
             "the retired key to leave the JWKS")
    seen["unpublished_seen_at"] = time.time()
    seen["kid_after_unpublish"] = line.issue().kid
    admin_call(daemon, "DestroyKey", pb.DestroyKeyRequest(kid=seen["kid0"]))
    seen["keys_after_destroy"] = list_keys(daemon)

    seen["rotated_grpc"] = admin_call(daemon, "RotateKey", pb.RotateKeyRequest(alg="ES256"))
    seen["jwks_after_grpc_rotate"] = http_jwks(daemon)
    seen["kid_after_grpc_rotate"] = line.issue().kid

    seen["last_kid1_token"] = line.issued[-1][0]
    seen["retired_now"] = admin_cli(daemon, "retire", "--now", "--", kid1)
    seen["jwks_after_retire_now"] = http_jwks(daemon)
    seen["kid_after_retire_now"] = line.issue().kid

    # No key is pending now, so retiring the active key makes a new one.
    kid2 = seen["kid_after_retire_now"]
    seen["retired_now_alone"] = admin_cli(daemon, "retire", "--now", "--", kid2)
    seen["jwks_after_retire_alone"] = http_jwks(daemon)
    seen["kid_after_retire_alone"] = line.issue().kid
    seen["issued"] = line.issued
    return seen


# --- after RotateKey through the CLI ---

def test_rotate_cli_new_key_pending(timeline):
    rotated = timeline["rotated"]
    assert rotated["state"] == "pending"
    assert rotated["kid"] != timeline["kid0"]


def test_rotate_cli_activates_after_prepublish(timeline):
    rotated = timeline["rotated"]
    # Generation may end in the second after created_at.
    assert PRE_PUBLISH <= rotated["activate_at"] - rotated["created_at"] <= PRE_PUBLISH + 1


def test_rotate_cli_new_key_published(timeline):
    assert timeline["rotated"]["kid"] in jwks_kids(timeline["jwks_before_activation"])


def test_rotate_cli_old_key_still_signs(timeline):
    assert timeline["kid_after_rotate"] == timeline["kid0"]


def test_rotate_cli_old_key_stays_active(daemon, timeline):
    old = timeline["keys_after_rotate"][timeline["kid0"]]
    assert old.state == daemon.stubs.hsmjwt.KEY_STATE_ACTIVE


def test_rotate_cli_old_key_retire_scheduled(timeline):
    old = timeline["keys_after_rotate"][timeline["kid0"]]
    assert old.retire_at == timeline["rotated"]["activate_at"]


# --- after activation ---

def test_activation_not_before_activate_at(timeline):
    assert iat_of(timeline["first_new_token"]) >= timeline["rotated"]["activate_at"]


def test_activation_old_tokens_before_activate_at(timeline):
    kid0 = timeline["kid0"]
    old_iats = [iat_of(token) for token, _ in timeline["issued"] if header_of(token)["kid"] == kid0]
    assert max(old_iats) < timeline["rotated"]["activate_at"]


def test_activation_first_token_verifies_with_prepublished_jwks(timeline):
    """A verifier that cached the JWKS before activation already has the new key."""
    verify_token(timeline["first_new_token"], timeline["jwks_before_activation"], "ES256")


def test_activation_old_key_still_published(timeline):
    assert timeline["kid0"] in jwks_kids(timeline["jwks_after_activation"])


def test_activation_old_key_retired(daemon, timeline):
    old = timeline["keys_after_activation"][timeline["kid0"]]
    assert old.state == daemon.stubs.hsmjwt.KEY_STATE_RETIRED


def test_activation_new_key_active(daemon, timeline):
    new = timeline["keys_after_activation"][timeline["rotated"]["kid"]]
    assert new.state == daemon.stubs.hsmjwt.KEY_STATE_ACTIVE


def test_activation_unpublish_at(timeline):
    old = timeline["keys_after_activation"][timeline["kid0"]]
    assert old.unpublish_at == old.retire_at + MAX_TTL + CLOCK_SKEW


# --- unpublication and destruction ---

def test_destroy_before_unpublish_rejected(timeline):
    assert timeline["destroy_early"] == grpc.StatusCode.FAILED_PRECONDITION


def test_unpublish_not_before_unpublish_at(timeline):
    old = timeline["keys_after_activation"][timeline["kid0"]]
    assert timeline["unpublished_seen_at"] >= old.unpublish_at


def test_unpublish_new_key_signs(timeline):
    assert timeline["kid_after_unpublish"] == timeline["rotated"]["kid"]


def test_destroy_after_unpublish_removes_key(timeline):
    assert timeline["kid0"] not in timeline["keys_after_destroy"]


# --- RotateKey through gRPC ---

def test_rotate_grpc_new_key_pending(daemon, timeline):
    assert timeline["rotated_grpc"].state == daemon.stubs.hsmjwt.KEY_STATE_PENDING


def test_rotate_grpc_new_key_published(timeline):
    assert timeline["rotated_grpc"].kid in jwks_kids(timeline["jwks_after_grpc_rotate"])


def test_rotate_grpc_old_key_still_signs(timeline):
    assert timeline["kid_after_grpc_rotate"] == timeline["rotated"]["kid"]


# --- retire --now of the active key ---

def test_retire_now_returns_expired(timeline):
    assert timeline["retired_now"]["state"] == "expired"


def test_retire_now_unpublishes_at_once(timeline):
    assert timeline["rotated"]["kid"] not in jwks_kids(timeline["jwks_after_retire_now"])


def test_retire_now_pending_key_signs_at_once(timeline):
    assert timeline["kid_after_retire_now"] == timeline["rotated_grpc"].kid


def test_retire_now_old_tokens_stop_verifying(timeline):
    with pytest.raises(AssertionError, match="is not in the JWKS"):
        verify_token(timeline["last_kid1_token"], timeline["jwks_after_retire_now"], "ES256")


def test_retire_now_without_pending_unpublishes(timeline):
    retired = timeline["retired_now_alone"]["kid"]
    assert retired not in jwks_kids(timeline["jwks_after_retire_alone"])


def test_retire_now_without_pending_new_key_signs(timeline):
    new_kid = timeline["kid_after_retire_alone"]
    assert new_kid not in (timeline["retired_now_alone"]["kid"], timeline["rotated"]["kid"],
                           timeline["kid0"])
    assert new_kid in jwks_kids(timeline["jwks_after_retire_alone"])


# --- every token of the timeline ---

def test_timeline_every_token_verifies(timeline):
    failures = []
    for index, (token, jwks) in enumerate(timeline["issued"]):
        # jwcrypto raises several exception types, and each failure is listed.
        try:
            verify_token(token, jwks, "ES256")
        except Exception as error:
            failures.append(f"token {index}: {type(error).__name__}: {error}")
    assert failures == []


def test_timeline_signed_with_four_keys(timeline):
    kids = {header_of(token)["kid"] for token, _ in timeline["issued"]}
    assert len(kids) == 4


# --- HTTP: cache headers and OpenID discovery ---

def test_jwks_max_age_within_prepublish(daemon):
    _, headers, _ = http_get(daemon.http_base + "/.well-known/jwks.json")
    match = re.search(r"max-age=(\d+)", headers.get("Cache-Control", ""))
    assert match, f"Cache-Control without max-age: {headers.get('Cache-Control')!r}"
    assert int(match.group(1)) <= PRE_PUBLISH


def test_jwks_has_etag(daemon):
    _, headers, _ = http_get(daemon.http_base + "/.well-known/jwks.json")
    assert headers.get("ETag")


@pytest.fixture(scope="module")
def discovery(daemon):
    status, headers, body = http_get(daemon.http_base + "/.well-known/openid-configuration")
    assert status == 200
    assert "json" in headers.get("Content-Type", "")
    return json.loads(body)


def test_discovery_issuer(discovery):
    assert discovery["issuer"] == ISSUER


def test_discovery_jwks_uri(discovery):
    assert discovery["jwks_uri"] == ISSUER + "/.well-known/jwks.json"


def test_discovery_signing_algs(discovery):
    assert sorted(discovery["id_token_signing_alg_values_supported"]) == \
        sorted(profile.alg for profile in PROFILES)


# --- two replicas on one token ---

def sorted_members(jwks):
    return sorted(jwks["keys"], key=lambda member: member["kid"])


def sign_kid(daemon):
    return daemon.client.sign(claims_json="{}").kid


def sign_token(daemon):
    return daemon.client.sign(claims_json="{}").token


@pytest.fixture(scope="module")
def replicas(socket_dir, module_daemons):
    """Two daemons on one token (same SOFTHSM2_CONF and label), each with its own ports."""
    token = module_daemons.token()
    first = start_daemon(module_daemons, token=token, profiles=PROFILES, socket_dir=socket_dir,
                         keys=KEYS)
    second = start_daemon(module_daemons, token=token, profiles=PROFILES, socket_dir=socket_dir,
                          keys=KEYS)
    return first, second


@pytest.fixture(scope="module")
def replica_rotation(replicas):
    """Rotate ES256 through the first replica and record what each replica serves."""
    first, second = replicas
    pb = first.stubs.hsmjwt
    seen = {"kid_before": sign_kid(first)}

    rotated = admin_call(first, "RotateKey", pb.RotateKeyRequest(alg="ES256"))
    rotated_at = time.monotonic()
    seen["rotated"] = rotated
    # The wait is longer than the bound that a test checks, so that a late
    # replica fails that test with the measured delay.
    wait_for(lambda: rotated.kid in jwks_kids(http_jwks(second)), REFRESH + 1 + MARGIN,
             "the second replica to publish the rotated key")
    seen["seen_after"] = time.monotonic() - rotated_at
    seen["jwks"] = {"pending": (http_jwks(first), http_jwks(second))}
    seen["kid_pending"] = (sign_kid(first), sign_kid(second))
    seen["tokens"] = {"pending": [sign_token(replica) for replica in replicas]}

    wait_until_clock(rotated.activate_at)
    wait_for(lambda: sign_kid(first) == rotated.kid, MARGIN, "the first replica to switch keys")
    seen["kid_active"] = (sign_kid(first), sign_kid(second))
    seen["jwks"]["active"] = (http_jwks(first), http_jwks(second))
    seen["tokens"]["active"] = [sign_token(replica) for replica in replicas]
    return seen


def test_replicas_serve_same_jwks(replicas):
    first, second = replicas
    assert sorted_members(http_jwks(first)) == sorted_members(http_jwks(second))


def test_replicas_sign_with_same_kid(replicas):
    first, second = replicas
    assert sign_kid(first) == sign_kid(second)


def test_replicas_rotation_seen_within_refresh(replica_rotation):
    assert replica_rotation["seen_after"] <= REFRESH + 1


def test_replicas_same_jwks_while_pending(replica_rotation):
    first, second = replica_rotation["jwks"]["pending"]
    assert sorted_members(first) == sorted_members(second)


def test_replicas_old_kid_signs_while_pending(replica_rotation):
    before = replica_rotation["kid_before"]
    assert replica_rotation["kid_pending"] == (before, before)


def test_replicas_same_jwks_after_activation(replica_rotation):
    first, second = replica_rotation["jwks"]["active"]
    assert sorted_members(first) == sorted_members(second)


def test_replicas_new_kid_signs_on_both(replica_rotation):
    """The second replica switches by its clock, in the same second as the first."""
    new_kid = replica_rotation["rotated"].kid
    assert replica_rotation["kid_active"] == (new_kid, new_kid)


@pytest.mark.parametrize("phase", ["pending", "active"])
@pytest.mark.parametrize("signer", [0, 1], ids=["first-signs", "second-signs"])
@pytest.mark.parametrize("publisher", [0, 1], ids=["first-jwks", "second-jwks"])
def test_replicas_tokens_verify_on_either(replica_rotation, phase, signer, publisher):
    token = replica_rotation["tokens"][phase][signer]
    _, payload = verify_token(token, replica_rotation["jwks"][phase][publisher], "ES256")
    assert dict(parse_pairs(payload))["iss"] == ISSUER
