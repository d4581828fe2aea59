"""Startup, restart and shutdown: keys, PIN sources, bad configs and signals."""

import re
import secrets
import signal
import threading
import time

import grpc
import pytest

from harness import Client, Profile, verify_token

PROFILES = [
    Profile("es256", "ES256"),
    Profile("rs256", "RS256"),
    Profile("ps256", "PS256"),
]
ONE_PROFILE = [Profile("default", "ES256")]

BURST_THREADS = 4
BURST_CALLS_PER_THREAD = 50
BURST_CALL_TIMEOUT = 5.0
# Calls that must have finished before SIGTERM, so that it lands mid-burst.
BURST_CALLS_BEFORE_SIGNAL = 20


def kids(daemon):
    return sorted(member["kid"] for member in daemon.client.jwks()["keys"])


@pytest.fixture(scope="module")
def restarts(module_daemons):
    """Start three daemons in turn on one token and record what each saw.

    The first generates the keys, the second runs with the same config, the
    third with generate_missing_keys: false. The third keeps running.
    """
    token = module_daemons.token()
    record = {}

    first = module_daemons.start(token=token, profiles=PROFILES)
    record["kids"] = [kids(first)]
    record["sign_kid"] = [first.client.sign(profile="es256", claims_json="{}").kid]
    record["exit"] = [first.stop()]
    record["keys"] = [len(token.service_keys())]

    second = module_daemons.start(token=token, profiles=PROFILES)
    record["kids"].append(kids(second))
    record["sign_kid"].append(second.client.sign(profile="es256", claims_json="{}").kid)
    record["exit"].append(second.stop())
    record["keys"].append(len(token.service_keys()))

    third = module_daemons.start(token=token, profiles=PROFILES, generate_missing_keys=False)
    record["kids"].append(kids(third))
    response = third.client.sign(profile="ps256", claims_json="{}")
    record["third_token"] = (response.token, third.client.jwks())
    record["keys"].append(len(token.service_keys()))
    return record


def test_restart_first_generates_keys(restarts):
    assert restarts["keys"][0] == len(PROFILES)
    assert len(restarts["kids"][0]) == len(PROFILES)


def test_restart_exits_zero(restarts):
    assert restarts["exit"] == [0, 0]


def test_restart_keeps_kids(restarts):
    assert restarts["kids"][1] == restarts["kids"][0]
    assert restarts["sign_kid"][1] == restarts["sign_kid"][0]


def test_restart_generates_no_key(restarts):
    assert restarts["keys"] == [len(PROFILES)] * 3


def test_restart_without_generation_uses_keys(restarts):
    token, jwks = restarts["third_token"]
    assert restarts["kids"][2] == restarts["kids"][0]
    verify_token(token, jwks, "PS256")


def test_missing_key_without_generation(daemons):
    token = daemons.token()
    text, _, _ = daemons.config(token=token, profiles=ONE_PROFILE, generate_missing_keys=False)
    status, stderr = daemons.run_to_exit(text, token)
    assert status > 0, stderr
    assert "ES256" in stderr
    assert token.service_keys() == []


def test_wrong_pin_rejected(daemons):
    token = daemons.token()
    wrong_pin = "wrong-pin-" + secrets.token_hex(8)
    text, _, _ = daemons.config(token=token, profiles=ONE_PROFILE, pin=wrong_pin)
    status, stderr = daemons.run_to_exit(text, token)
    assert status > 0, stderr
    assert "CKR_PIN_INCORRECT" in stderr
    assert wrong_pin not in stderr
    assert token.pin not in stderr


def test_pin_from_environment(daemons):
    token = daemons.token()
    daemon = daemons.start(token=token, profiles=ONE_PROFILE, pin_env="HSMJWT_TEST_PIN",
                           env_extra={"HSMJWT_TEST_PIN": token.pin})
    response = daemon.client.sign(claims_json="{}")
    verify_token(response.token, daemon.client.jwks(), "ES256")
    assert token.pin not in daemon.stderr_text()


def test_pin_environment_variable_unset(daemons):
    token = daemons.token()
    text, _, _ = daemons.config(token=token, profiles=ONE_PROFILE, pin_env="HSMJWT_TEST_UNSET_PIN")
    status, stderr = daemons.run_to_exit(text, token)
    assert status > 0, stderr
    assert "HSMJWT_TEST_UNSET_PIN" in stderr


def test_pin_file_missing(daemons, tmp_path):
    token = daemons.token()
    missing = tmp_path / "no-such-pin-file"
    text, _, _ = daemons.config(token=token, profiles=ONE_PROFILE, pin_file=missing)
    status, stderr = daemons.run_to_exit(text, token)
    assert status > 0, stderr
    assert str(missing) in stderr


def edit_config(text, prefix, replacement):
    """Replace the first line of text that starts with prefix by the replacement lines.

    Returns the new text and the 1-based line number of the first replacement line.
    """
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    lines[index:index + 1] = replacement
    return "\n".join(lines) + "\n", index + 1


# (id, line prefix, replacement lines, key the message must name, whether it names the line)
BAD_CONFIGS = [
    ("unknown key", "  token:", ["  colour: blue", None], "colour", True),
    ("invalid duration", "    ttl:", ["    ttl: 5x"], "ttl", True),
    ("wrong boolean", "  generate_missing_keys:", ["  generate_missing_keys: maybe"],
     "generate_missing_keys", True),
    # 192.0.2.1 (TEST-NET-1) is on no local interface, so even a daemon that
    # accepted it could not listen beyond loopback.
    ("non-loopback listen", "  grpc:", ['  grpc: "192.0.2.1:50051"'], "grpc", True),
    ("alg none", "    alg:", ["    alg: none"], "alg", True),
    ("pin in config", "  token:", [None, "  pin: pin-in-config-3kd9"], "pin", True),
    ("missing issuer", "issuer:", [], "issuer", False),
]


@pytest.mark.parametrize("prefix,replacement,key,names_line",
                         [case[1:] for case in BAD_CONFIGS], ids=[case[0] for case in BAD_CONFIGS])
def test_bad_config_exits_1(daemons, prefix, replacement, key, names_line):
    token = daemons.token()
    text, _, _ = daemons.config(token=token, profiles=ONE_PROFILE)
    original = next(line for line in text.splitlines() if line.startswith(prefix))
    # None in the replacement stands for the original line.
    lines = [original if line is None else line for line in replacement]
    text, line_number = edit_config(text, prefix, lines)
    if replacement and replacement[0] is None:
        line_number += 1

    status, stderr = daemons.run_to_exit(text, token)
    assert status == 1, stderr
    assert key in stderr
    if names_line:
        assert re.search(rf":{line_number}\b", stderr), f"line {line_number} not in {stderr!r}"
    assert "pin-in-config-3kd9" not in stderr
    assert token.pin not in stderr


def test_config_file_missing(daemons, tmp_path):
    token = daemons.token()
    daemon_dir = tmp_path / "missing-config"
    daemon_dir.mkdir()
    text, _, _ = daemons.config(token=token, profiles=ONE_PROFILE)
    status, stderr = daemons.run_to_exit(text, token, config_path=daemon_dir / "absent.yaml")
    assert status == 1, stderr
    assert "absent.yaml" in stderr


def test_sigint_exits_zero(daemons):
    daemon = daemons.start(profiles=ONE_PROFILE)
    daemon.client.sign(claims_json="{}")
    assert daemon.stop(signal.SIGINT) == 0


def test_sigterm_during_burst(daemons):
    daemon = daemons.start(profiles=ONE_PROFILE)
    outcomes = []
    lock = threading.Lock()

    def burst():
        client = Client(daemon.grpc_target, daemon.stubs)
        try:
            for _ in range(BURST_CALLS_PER_THREAD):
                try:
                    client.sign(claims_json='{"sub":"burst"}', timeout=BURST_CALL_TIMEOUT)
                    outcome = "OK"
                except grpc.RpcError as error:
                    outcome = error.code().name
                with lock:
                    outcomes.append(outcome)
        finally:
            client.close()

    threads = [threading.Thread(target=burst) for _ in range(BURST_THREADS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(outcomes) < BURST_CALLS_BEFORE_SIGNAL and time.monotonic() < deadline:
        time.sleep(0.001)
    calls_before_signal = len(outcomes)
    status = daemon.stop()
    for thread in threads:
        thread.join(timeout=BURST_CALLS_PER_THREAD * BURST_CALL_TIMEOUT)

    # The signal went out while calls were still to come.
    assert BURST_CALLS_BEFORE_SIGNAL <= calls_before_signal < BURST_THREADS * BURST_CALLS_PER_THREAD
    assert not any(thread.is_alive() for thread in threads)
    assert status == 0, daemon.log_tail()
    assert len(outcomes) == BURST_THREADS * BURST_CALLS_PER_THREAD
    counts = {outcome: outcomes.count(outcome) for outcome in set(outcomes)}
    unexpected = sorted(set(outcomes) - {"OK", "UNAVAILABLE", "CANCELLED"})
    assert unexpected == [], f"outcome counts: {counts}"
    assert "OK" in outcomes
