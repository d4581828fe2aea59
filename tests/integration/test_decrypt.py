"""Decrypt JWEs that jwcrypto made for hsmjwtd's own keys.

One daemon serves the module with keys.decryption listing all five key
management algorithms. SoftHSM 2.6.1 cannot decrypt RSA-OAEP with SHA-256,
and a probe at startup finds that out, so the tests accept either outcome of
the probe but check that the JWKS, the log and Decrypt agree with it. The
rotation tests come last because they add a key to the daemon.
"""

import base64
import collections
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import grpc
import pytest
from jwcrypto import jwe, jwk

from harness import (CALL_TIMEOUT, SERVING, Profile, b64url_decode, daemon_path,
                     expect_rpc_error, http_get)

DECRYPT_METHOD = "/hsmjwt.v1.TokenService/Decrypt"
OAEP_256 = "RSA-OAEP-256"
DECRYPTION_ALGS = ["RSA-OAEP", OAEP_256, "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"]
# The daemon must publish a key for each of these. RSA-OAEP-256 depends on the probe.
REQUIRED_ALGS = [alg for alg in DECRYPTION_ALGS if alg != OAEP_256]
ENCS = ["A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"]
KEY_LABEL_PREFIX = "hsmjwt:"
PROBE_LABEL_PREFIX = "hsmjwt-probe:"
PRE_PUBLISH = 600

# Plaintext with a random marker that must never reach the log, NUL and
# non-UTF-8 bytes, and a length that is not a multiple of the AES block.
MARKER = "decrypt-marker-" + secrets.token_hex(8)
PLAINTEXT = MARKER.encode() + b"\x00\x01\xfe\xff caf\xc3\xa9 \xc3"

DISABLED_LOG = "event=decryption_disabled alg=RSA-OAEP-256"
FAILED_PREFIX = "JWE could not be decrypted: "
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

# Upper bound in seconds on one run of the hsmjwt client.
CLI_RUN_TIMEOUT = 60.0
# Upper bound in seconds on the wait for a log line to reach the log file.
LOG_WAIT_TIMEOUT = 5.0


# --- helpers ---

def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def insert_after(text, line, addition):
    """Insert addition after the first occurrence of line in a rendered config."""
    assert line in text, f"{line!r} is not in the config"
    return text.replace(line, line + addition, 1)


def cli_path():
    """Return the client under test: $HSMJWT_CLI, else BUILD/src/cli/hsmjwt beside the daemon."""
    value = os.environ.get("HSMJWT_CLI")
    path = Path(value) if value else daemon_path().parents[1] / "cli" / "hsmjwt"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"hsmjwt not found at {path}; build it with ninja (target src/cli/hsmjwt) "
                    f"or set HSMJWT_CLI to its path", pytrace=False)
    return path


def run_cli(*args, stdin=b""):
    """Run the client with args and return the CompletedProcess with bytes output."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("HSMJWT_SERVER", "HSMJWT_ADMIN")}
    return subprocess.run([str(cli_path()), *args], input=stdin, capture_output=True,
                          env=env, timeout=CLI_RUN_TIMEOUT, check=False)


def cli_admin_json(daemon, *args):
    """Run a keys command on the daemon's admin socket with --json and return the parsed output."""
    result = run_cli("--json", "--admin", daemon.admin_target, "keys", *args)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return json.loads(result.stdout)


def decrypt(daemon, token):
    """Call TokenService.Decrypt with token and return the DecryptResponse."""
    pb = daemon.stubs.hsmjwt
    call = daemon.client.channel.unary_unary(
        DECRYPT_METHOD, request_serializer=pb.DecryptRequest.SerializeToString,
        response_deserializer=pb.DecryptResponse.FromString)
    return call(pb.DecryptRequest(token=token), timeout=CALL_TIMEOUT)


def encrypt(public_jwk, alg, enc, *, kid=None, extra=None, plaintext=PLAINTEXT):
    """Encrypt plaintext to public_jwk with jwcrypto as a compact JWE.

    kid goes into the header, and None leaves "kid" out. extra adds header
    members, such as "zip".
    """
    header = {"alg": alg, "enc": enc}
    if kid is not None:
        header["kid"] = kid
    header.update(extra or {})
    message = jwe.JWE(plaintext, json.dumps(header))
    # jwcrypto rejects RSA1_5 unless the caller allows it.
    message.allowed_algs = [alg, enc]
    message.add_recipient(public_jwk if isinstance(public_jwk, jwk.JWK)
                          else jwk.JWK(**public_jwk))
    return message.serialize(compact=True)


def encrypt_to(key, enc="A256GCM", **options):
    """Encrypt PLAINTEXT to a published enc key, with the key's kid unless options set kid."""
    options.setdefault("kid", key["kid"])
    return encrypt(key, key["alg"], enc, **options)


def header_text(token):
    return b64url_decode(token.split(".")[0]).decode()


def replace_part(token, index, change):
    """Decode part index of a compact token, apply change to its bytes and re-encode it."""
    parts = token.split(".")
    parts[index] = b64url_encode(change(b64url_decode(parts[index])))
    return ".".join(parts)


def flip_bit(data):
    """Flip the lowest bit of the middle byte."""
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0x01
    return bytes(changed)


def off_curve_epk(header_bytes):
    """Change the last byte of the epk's y, which moves the point off P-256."""
    header = json.loads(header_bytes)
    y = bytearray(b64url_decode(header["epk"]["y"]))
    y[-1] ^= 0x01
    header["epk"]["y"] = b64url_encode(bytes(y))
    return json.dumps(header).encode()


def published_key(keys, alg):
    found = [key for key in keys if key["alg"] == alg]
    assert len(found) == 1, f"expected one published {alg} key, found {len(found)}"
    return found[0]


def enc_members(jwks):
    return [member for member in jwks["keys"] if member.get("use") == "enc"]


def http_enc_keys(daemon):
    status, _, body = http_get(daemon.http_base + "/.well-known/jwks.json")
    assert status == 200
    return enc_members(json.loads(body))


def enc_private_keys(token):
    labels = {KEY_LABEL_PREFIX + alg for alg in DECRYPTION_ALGS}
    return [obj for obj in token.service_keys("Private Key Object") if obj["label"] in labels]


def access_flags(obj):
    return {item.strip() for item in obj.get("access", "").split(",")}


def decrypt_log_lines(daemon):
    return [line for line in daemon.stderr_text().splitlines() if "method=Decrypt" in line]


def wait_for_log_line(daemon, *fragments):
    """Return the first Decrypt log line that contains every fragment, or None after a bounded wait."""
    deadline = time.monotonic() + LOG_WAIT_TIMEOUT
    while True:
        for line in decrypt_log_lines(daemon):
            if all(fragment in line for fragment in fragments):
                return line
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


# --- fixtures ---

@pytest.fixture(scope="module")
def socket_dir():
    """A short folder for the admin socket, whose path is limited to 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="hsmjwt-decrypt-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon(socket_dir, module_daemons):
    """A daemon with every decryption algorithm and KeyAdmin on a unix socket.

    socket_dir comes first so that it is removed after the daemon stops.
    """
    token = module_daemons.token()
    text, grpc_port, http_port = module_daemons.config(
        token=token, profiles=[Profile("default", "ES256")], pre_publish=f"{PRE_PUBLISH}s")
    admin_target = f"unix:{socket_dir / 'admin.sock'}"
    text = insert_after(text, f'  http: "127.0.0.1:{http_port}"\n',
                        f"  admin: {json.dumps(admin_target)}\n")
    text = insert_after(text, "keys:\n", f"  decryption: [{', '.join(DECRYPTION_ALGS)}]\n")
    started = module_daemons.start_with_config(text, grpc_port, http_port, token)
    started.admin_target = admin_target
    return started


@pytest.fixture(scope="module")
def enc_keys(daemon):
    """The "use":"enc" members of the HTTP JWKS, fetched once after startup."""
    return http_enc_keys(daemon)


@pytest.fixture(scope="module")
def oaep_256_published(enc_keys):
    return any(key["alg"] == OAEP_256 for key in enc_keys)


# Rejections after the protected header has been parsed. Each one must get
# the same message, so that a caller cannot learn which step failed.
def make_crypto_rejections(keys):
    rsa = published_key(keys, "RSA-OAEP")
    ecdh = published_key(keys, "ECDH-ES")
    ecdh_kw128 = published_key(keys, "ECDH-ES+A128KW")
    ecdh_kw256 = published_key(keys, "ECDH-ES+A256KW")
    other_rsa = jwk.JWK.generate(kty="RSA", size=2048)
    other_ec = jwk.JWK.generate(kty="EC", crv="P-256")
    return {
        "tag-gcm": replace_part(encrypt_to(rsa, "A256GCM"), 4, flip_bit),
        "tag-cbc": replace_part(encrypt_to(ecdh_kw128, "A128CBC-HS256"), 4, flip_bit),
        "ciphertext-gcm": replace_part(encrypt_to(ecdh, "A256GCM"), 3, flip_bit),
        "ciphertext-cbc": replace_part(encrypt_to(rsa, "A256CBC-HS512"), 3, flip_bit),
        "iv": replace_part(encrypt_to(rsa, "A128GCM"), 2, flip_bit),
        "encrypted-key-rsa": replace_part(encrypt_to(rsa), 1, flip_bit),
        "encrypted-key-kw": replace_part(encrypt_to(ecdh_kw256), 1, flip_bit),
        "tag-truncated": replace_part(encrypt_to(ecdh, "A128GCM"), 4, lambda tag: tag[:-1]),
        "header-edited": replace_part(
            encrypt_to(rsa), 0, lambda h: json.dumps({**json.loads(h), "x": 1}).encode()),
        "other-rsa-key": encrypt(other_rsa, "RSA-OAEP", "A256GCM", kid=rsa["kid"]),
        "other-ec-key": encrypt(other_ec, "ECDH-ES", "A256GCM", kid=ecdh["kid"]),
        "other-key-no-kid": encrypt(other_ec, "ECDH-ES+A128KW", "A256GCM"),
        "unknown-kid": encrypt(other_ec, "ECDH-ES", "A256GCM", kid=other_ec.thumbprint()),
        "off-curve-epk": replace_part(encrypt_to(ecdh), 0, off_curve_epk),
        "off-curve-epk-kw": replace_part(encrypt_to(ecdh_kw256), 0, off_curve_epk),
    }


CRYPTO_REJECTIONS = ["tag-gcm", "tag-cbc", "ciphertext-gcm", "ciphertext-cbc", "iv",
                     "encrypted-key-rsa", "encrypted-key-kw", "tag-truncated", "header-edited",
                     "other-rsa-key", "other-ec-key", "other-key-no-kid", "unknown-kid",
                     "off-curve-epk", "off-curve-epk-kw"]


# Rejections of the token's form or of its protected header, before any key
# is used. Their messages name the problem, and no key or secret is involved.
def make_form_rejections(keys):
    rsa = published_key(keys, "RSA-OAEP")
    ecdh = published_key(keys, "ECDH-ES")
    rsa_without_alg = {name: value for name, value in rsa.items() if name != "alg"}
    none_header = b64url_encode(json.dumps({"alg": "none", "enc": "A128GCM"}).encode())
    return {
        "four-parts": ".".join(encrypt_to(rsa).split(".")[:4]),
        "rsa1_5": encrypt(rsa_without_alg, "RSA1_5", "A128GCM", kid=rsa["kid"]),
        "alg-none": f"{none_header}..{b64url_encode(bytes(12))}.{b64url_encode(b'x')}."
                    f"{b64url_encode(bytes(16))}",
        "alg-dir": encrypt(jwk.JWK.generate(kty="oct", size=128), "dir", "A128GCM"),
        "zip": encrypt_to(ecdh, extra={"zip": "DEF"}),
        "empty": "",
    }


# The word that each form rejection's message must contain.
FORM_REJECTIONS = {
    "four-parts": "five parts",
    "rsa1_5": "RSA1_5",
    "alg-none": "none",
    "alg-dir": "dir",
    "zip": "zip",
    "empty": "token",
}


@pytest.fixture(scope="module")
def rejections(daemon, enc_keys):
    """Send every bad token once and return {case: (status code, message)}."""
    tokens = {**make_crypto_rejections(enc_keys), **make_form_rejections(enc_keys)}
    results = {}
    for case, token in tokens.items():
        try:
            decrypt(daemon, token)
            results[case] = (grpc.StatusCode.OK, "")
        except grpc.RpcError as error:
            results[case] = (error.code(), error.details())
    return results


# --- JWKS and the RSA-OAEP-256 probe ---

def test_jwks_enc_key_per_alg(enc_keys):
    counts = collections.Counter(key["alg"] for key in enc_keys)
    assert {alg: counts[alg] for alg in REQUIRED_ALGS} == {alg: 1 for alg in REQUIRED_ALGS}
    assert counts[OAEP_256] <= 1
    assert set(counts) <= set(DECRYPTION_ALGS)


@pytest.mark.parametrize("alg", REQUIRED_ALGS)
def test_jwks_enc_key_shape(enc_keys, alg):
    key = published_key(enc_keys, alg)
    if alg.startswith("RSA"):
        assert key["kty"] == "RSA"
        assert len(b64url_decode(key["n"])) * 8 == 2048
    else:
        assert key["kty"] == "EC"
        assert key["crv"] == "P-256"
    assert PRIVATE_MEMBERS.isdisjoint(key)
    assert key["kid"] == jwk.JWK(**key).thumbprint()


def test_jwks_enc_keys_over_grpc(daemon):
    assert enc_members(daemon.client.jwks()) == http_enc_keys(daemon)


def test_oaep_256_probe_logged(daemon, oaep_256_published):
    """Either the daemon publishes an RSA-OAEP-256 key or it logs why not, and never both."""
    logged = DISABLED_LOG in daemon.stderr_text()
    assert logged != oaep_256_published, (
        f"RSA-OAEP-256 key published: {oaep_256_published}, {DISABLED_LOG!r} logged: {logged}")


def test_oaep_256_decrypt_follows_probe(daemon, enc_keys, oaep_256_published):
    if oaep_256_published:
        key = published_key(enc_keys, OAEP_256)
        for enc in ENCS:
            response = decrypt(daemon, encrypt_to(key, enc))
            assert response.plaintext == PLAINTEXT, enc
            assert response.kid == key["kid"], enc
    else:
        # A client that encrypts to the RSA key with SHA-256 OAEP.
        rsa = published_key(enc_keys, "RSA-OAEP")
        rsa_without_alg = {name: value for name, value in rsa.items() if name != "alg"}
        error = expect_rpc_error(decrypt, daemon, encrypt(rsa_without_alg, OAEP_256, "A256GCM"))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert OAEP_256 in error.details()
        assert "RSA-OAEP or ECDH-ES" in error.details()


def test_oaep_256_generate_follows_probe(daemon, oaep_256_published):
    far_future = int(time.time()) + 10 * PRE_PUBLISH
    result = run_cli("--admin", daemon.admin_target, "keys", "generate", "--alg", OAEP_256,
                     "--activate-at", str(far_future))
    if oaep_256_published:
        assert result.returncode == 0, result.stderr.decode(errors="replace")
    else:
        assert result.returncode == 1
        assert result.stderr.startswith(b"hsmjwt: keys generate: FAILED_PRECONDITION: ")


def test_generate_unlisted_alg_rejected(daemon):
    """ECDH-ES+A192KW is a JWE algorithm but not in keys.decryption."""
    result = run_cli("--admin", daemon.admin_target, "keys", "generate", "--alg",
                     "ECDH-ES+A192KW")
    assert result.returncode == 1
    assert result.stderr.startswith(b"hsmjwt: keys generate: FAILED_PRECONDITION: ")
    assert b"keys.decryption" in result.stderr


# --- private keys in the token ---

@pytest.mark.parametrize("flag", ["sensitive", "always sensitive", "never extractable", "local"])
def test_enc_private_keys_protected(daemon, flag):
    keys = enc_private_keys(daemon.token)
    assert keys
    for key in keys:
        assert flag in access_flags(key), f"{key['label']}: Access is {key.get('access')!r}"


def test_enc_private_keys_not_extractable(daemon):
    for key in enc_private_keys(daemon.token):
        assert "extractable" not in access_flags(key), (
            f"{key['label']}: Access is {key.get('access')!r}")


def test_enc_private_keys_cannot_sign(daemon):
    for key in enc_private_keys(daemon.token):
        usage = {item.strip() for item in key.get("usage", "").split(",")}
        assert "sign" not in usage, f"{key['label']}: Usage is {key.get('usage')!r}"


def test_enc_private_key_per_published_key(daemon):
    labels = sorted(key["label"] for key in enc_private_keys(daemon.token))
    published = sorted(KEY_LABEL_PREFIX + key["alg"] for key in http_enc_keys(daemon))
    assert labels == published


def test_probe_key_destroyed(daemon):
    probes = [obj for obj in daemon.token.list_objects()
              if PROBE_LABEL_PREFIX in obj.get("label", "")]
    assert probes == []


# --- decryption ---

@pytest.mark.parametrize("enc", ENCS)
@pytest.mark.parametrize("alg", REQUIRED_ALGS)
def test_decrypt_alg_enc(daemon, enc_keys, alg, enc):
    key = published_key(enc_keys, alg)
    token = encrypt_to(key, enc)
    response = decrypt(daemon, token)
    assert response.plaintext == PLAINTEXT
    assert response.kid == key["kid"]
    assert response.protected_header_json == header_text(token)


@pytest.mark.parametrize("alg", REQUIRED_ALGS)
def test_decrypt_without_kid(daemon, alg):
    active = [key for key in cli_admin_json(daemon, "list")["keys"]
              if key["alg"] == alg and key["state"] == "active"]
    assert len(active) == 1, active
    key = json.loads(active[0]["public_jwk_json"])
    token = encrypt_to(key, "A128CBC-HS256", kid=None)
    response = decrypt(daemon, token)
    assert response.plaintext == PLAINTEXT
    assert response.kid == active[0]["kid"]
    assert "kid" not in json.loads(response.protected_header_json)


def test_decrypt_empty_plaintext(daemon, enc_keys):
    response = decrypt(daemon, encrypt_to(published_key(enc_keys, "ECDH-ES"), plaintext=b""))
    assert response.plaintext == b""


def test_log_omits_plaintext_and_token(daemon, enc_keys):
    token = encrypt_to(published_key(enc_keys, "RSA-OAEP"))
    decrypt(daemon, token)
    _, encrypted_key, _, ciphertext, tag = token.split(".")
    text = daemon.stderr_text()
    assert MARKER not in text
    assert encrypted_key not in text
    assert ciphertext not in text
    assert tag not in text


# --- rejections ---

@pytest.mark.parametrize("case", CRYPTO_REJECTIONS + list(FORM_REJECTIONS))
def test_rejected_invalid_argument(rejections, case):
    code, message = rejections[case]
    assert code == grpc.StatusCode.INVALID_ARGUMENT, message


@pytest.mark.parametrize("case", CRYPTO_REJECTIONS)
def test_rejection_message_fixed(rejections, case):
    assert rejections[case][1].startswith(FAILED_PREFIX)


def test_rejection_messages_identical(rejections):
    messages = collections.Counter(rejections[case][1] for case in CRYPTO_REJECTIONS)
    assert len(messages) == 1, messages


@pytest.mark.parametrize("case", list(FORM_REJECTIONS))
def test_form_rejection_names_problem(rejections, case):
    assert FORM_REJECTIONS[case] in rejections[case][1]


def test_rejection_step_only_in_log(daemon, rejections):
    """The log names the epk check as the step that rejected the off-curve epk, but the message does not."""
    line = wait_for_log_line(daemon, "detail=", "epk", "curve", "status=INVALID_ARGUMENT")
    assert line is not None, "no Decrypt log line names the off-curve epk"
    assert "epk" not in rejections["off-curve-epk"][1]


def test_serves_after_rejections(daemon, enc_keys, rejections):
    key = published_key(enc_keys, "ECDH-ES+A256KW")
    assert decrypt(daemon, encrypt_to(key)).plaintext == PLAINTEXT
    assert daemon.client.health() == SERVING


# --- the hsmjwt client ---

def test_cli_decrypt_prints_plaintext(daemon, enc_keys):
    token = encrypt_to(published_key(enc_keys, "RSA-OAEP"))
    result = run_cli("--server", daemon.grpc_target, "decrypt", token)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stdout == PLAINTEXT
    assert result.stderr == b""


def test_cli_decrypt_from_stdin(daemon, enc_keys):
    token = encrypt_to(published_key(enc_keys, "ECDH-ES+A128KW"))
    result = run_cli("--server", daemon.grpc_target, "decrypt", "-", stdin=token.encode() + b"\n")
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stdout == PLAINTEXT


def test_cli_decrypt_json(daemon, enc_keys):
    key = published_key(enc_keys, "ECDH-ES")
    token = encrypt_to(key)
    result = run_cli("--json", "--server", daemon.grpc_target, "decrypt", token)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    output = json.loads(result.stdout)
    assert set(output) == {"plaintext", "protected_header_json", "kid"}
    assert base64.b64decode(output["plaintext"], validate=True) == PLAINTEXT
    assert output["protected_header_json"] == header_text(token)
    assert output["kid"] == key["kid"]


def test_cli_decrypt_bad_token(daemon, enc_keys):
    token = replace_part(encrypt_to(published_key(enc_keys, "RSA-OAEP")), 4, flip_bit)
    result = run_cli("--server", daemon.grpc_target, "decrypt", token)
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.startswith(b"hsmjwt: decrypt: INVALID_ARGUMENT: " + FAILED_PREFIX.encode())


# --- rotation, last because it adds a pending ECDH-ES key ---

@pytest.fixture(scope="module")
def rotated(daemon, enc_keys):
    """Rotate ECDH-ES through the client; return (old key, new key as KeyAdmin returns it)."""
    old = published_key(enc_keys, "ECDH-ES")
    new = cli_admin_json(daemon, "rotate", "--alg", "ECDH-ES")
    return old, new


def test_rotate_new_key_pending(rotated):
    old, new = rotated
    assert new["kid"] != old["kid"]
    assert new["alg"] == "ECDH-ES"
    assert new["state"] == "pending"


def test_rotate_publishes_new_key(daemon, rotated):
    _, new = rotated
    published = {key["kid"]: key for key in http_enc_keys(daemon)}
    assert new["kid"] in published
    assert published[new["kid"]]["alg"] == "ECDH-ES"
    assert published[new["kid"]] == json.loads(new["public_jwk_json"])


def test_rotate_old_key_still_active(daemon, rotated):
    old, _ = rotated
    states = {key["kid"]: key["state"] for key in cli_admin_json(daemon, "list")["keys"]}
    assert states[old["kid"]] == "active"


def test_rotate_old_key_decrypts(daemon, rotated):
    old, _ = rotated
    response = decrypt(daemon, encrypt_to(old))
    assert response.plaintext == PLAINTEXT
    assert response.kid == old["kid"]


def test_rotate_no_kid_uses_active_key(daemon, rotated):
    old, _ = rotated
    response = decrypt(daemon, encrypt_to(old, kid=None))
    assert response.plaintext == PLAINTEXT
    assert response.kid == old["kid"]


def test_rotate_pending_key_decrypts(daemon, rotated):
    """A client that picked the new key from the JWKS before it activates is served too."""
    _, new = rotated
    response = decrypt(daemon, encrypt_to(json.loads(new["public_jwk_json"])))
    assert response.plaintext == PLAINTEXT
    assert response.kid == new["kid"]
