"""Automatic rotation: keys.rotate_every rotates an active key once it is that old.

The daemon starts on a fresh token, so its ES256 key activates at once. With
rotate_every 2s and refresh 1s the reload thread adds a pending key after
about 2 s, which signs pre_publish later, and the first key is retired.
"""

import pytest

from helpers_it3 import (ProfileConfig, http_jwks, jwks_kids, list_keys, make_socket_dir,
                         remove_socket_dir, start_daemon, wait_for)

ROTATE_EVERY = 2
PRE_PUBLISH = 2
KEYS = {"rotate_every": f"{ROTATE_EVERY}s", "pre_publish": f"{PRE_PUBLISH}s",
        "refresh": "1s", "clock_skew": "0s"}
PROFILES = [ProfileConfig("default", "ES256", ttl="60s", max_ttl="60s")]


@pytest.fixture(scope="module")
def socket_dir():
    path = make_socket_dir()
    yield path
    remove_socket_dir(path)


@pytest.fixture(scope="module")
def rotation(socket_dir, module_daemons):
    """Start the daemon and record its first kid, the rotated-in kid and the states seen."""
    daemon = start_daemon(module_daemons, profiles=PROFILES, socket_dir=socket_dir, keys=KEYS)
    first = daemon.client.sign(claims_json="{}").kid
    pb = daemon.stubs.hsmjwt

    def pending_key():
        keys = list_keys(daemon)
        pending = [kid for kid, key in keys.items() if key.state == pb.KEY_STATE_PENDING]
        return (pending[0], keys) if pending else None

    second, keys_at_rotation = wait_for(pending_key, ROTATE_EVERY + 5,
                                        "a pending key from automatic rotation")
    jwks_at_rotation = jwks_kids(http_jwks(daemon))
    signer_at_rotation = daemon.client.sign(claims_json="{}").kid

    def new_key_signs():
        response = daemon.client.sign(claims_json="{}")
        return response if response.kid == second else None

    wait_for(new_key_signs, PRE_PUBLISH + 5, "the rotated-in key to sign")
    keys_after = list_keys(daemon)
    return {"daemon": daemon, "first": first, "second": second,
            "keys_at_rotation": keys_at_rotation, "jwks_at_rotation": jwks_at_rotation,
            "signer_at_rotation": signer_at_rotation, "keys_after": keys_after}


def test_auto_rotation_adds_new_key(rotation):
    assert rotation["second"] != rotation["first"]


def test_auto_rotation_publishes_pending_key(rotation):
    assert rotation["second"] in rotation["jwks_at_rotation"]


def test_auto_rotation_old_key_signs_meanwhile(rotation):
    assert rotation["signer_at_rotation"] == rotation["first"]


def test_auto_rotation_schedules_retirement(rotation):
    old = rotation["keys_at_rotation"][rotation["first"]]
    new = rotation["keys_at_rotation"][rotation["second"]]
    assert old.retire_at == new.activate_at
    assert new.activate_at - new.created_at == PRE_PUBLISH


def test_auto_rotation_retires_old_key(rotation):
    pb = rotation["daemon"].stubs.hsmjwt
    assert rotation["keys_after"][rotation["first"]].state == pb.KEY_STATE_RETIRED
    assert rotation["keys_after"][rotation["second"]].state == pb.KEY_STATE_ACTIVE


def test_auto_rotation_one_key_at_a_time(rotation):
    # The pending key stops further rotations until it activates.
    assert len(rotation["keys_at_rotation"]) == 2
