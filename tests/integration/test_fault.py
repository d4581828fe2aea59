"""Token faults injected by the PKCS#11 shim between hsmjwtd and SoftHSM.

The daemon loads the shim as its module. The shim forwards to SoftHSM
(HSMJWT_SHIM_MODULE) and fails the calls that the control file names, with
lines such as "C_Sign CKR_SESSION_HANDLE_INVALID 1" (function, CK_RV name, a
count or "*" for always). Rewriting the file resets the counts.
"""

import grpc
import pytest

from harness import SERVING, SOFTHSM_MODULE, Profile, expect_rpc_error, shim_path, verify_token

PROFILES = [Profile("default", "ES256")]


@pytest.fixture(scope="module")
def control_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("shim") / "control"
    path.write_text("")
    return path


@pytest.fixture(scope="module")
def daemon(module_daemons, control_file):
    return module_daemons.start(
        profiles=PROFILES, module=shim_path(),
        env_extra={"HSMJWT_SHIM_MODULE": SOFTHSM_MODULE, "HSMJWT_SHIM_CONTROL": str(control_file)})


@pytest.fixture
def faults(control_file):
    """Write the control file; clear it after the test."""
    yield control_file.write_text
    control_file.write_text("")


def sign_and_verify(daemon):
    response = daemon.client.sign(claims_json='{"sub":"fault"}')
    verify_token(response.token, daemon.client.jwks(), "ES256")


def test_no_fault_signs(daemon):
    sign_and_verify(daemon)


def test_session_invalid_once_retried(daemon, faults):
    faults("C_Sign CKR_SESSION_HANDLE_INVALID 1\n")
    sign_and_verify(daemon)


def test_session_invalid_twice_unavailable(daemon, faults):
    # One retry only: the second failure reaches the caller, the next call signs.
    faults("C_Sign CKR_SESSION_HANDLE_INVALID 2\n")
    error = expect_rpc_error(daemon.client.sign, claims_json="{}")
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
    sign_and_verify(daemon)


def test_session_invalid_always_unavailable(daemon, faults, control_file):
    faults("C_Sign CKR_SESSION_HANDLE_INVALID *\n")
    for _ in range(3):
        error = expect_rpc_error(daemon.client.sign, claims_json="{}")
        assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
        assert error.details().strip()
    assert daemon.client.jwks()["keys"]

    control_file.write_text("")
    sign_and_verify(daemon)


def test_device_error_unavailable(daemon, faults, control_file):
    faults("C_Sign CKR_DEVICE_ERROR *\n")
    error = expect_rpc_error(daemon.client.sign, claims_json="{}")
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
    assert error.details().strip()

    control_file.write_text("")
    sign_and_verify(daemon)


def test_serving_after_faults(daemon):
    assert daemon.client.health() == SERVING
    sign_and_verify(daemon)
