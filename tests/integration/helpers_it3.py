"""Helpers for the algorithm, Verify, rotation and nested-JWT integration tests.

They render daemon configs with the keys the harness config leaves out
(listen.admin, keys.refresh, keys.clock_skew, recipients and profile
encryption blocks), call Verify and KeyAdmin, poll with a deadline, and
import a known RSA key into a test token. Every daemon listens on 127.0.0.1
or on a unix socket in a temporary folder, and every client connects only
there.
"""

import base64
import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from harness import (CALL_TIMEOUT, SOFTHSM_MODULE, TOOL_TIMEOUT, b64url_decode, daemon_path,
                     free_ports, http_get, require_tool)

ISSUER = "https://tokens.test.internal"

# Every JWS algorithm that hsmjwtd signs with.
ALL_ALGS = ["ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512",
            "PS256", "PS384", "PS512", "HS256", "HS384", "HS512"]
HMAC_ALGS = ["HS256", "HS384", "HS512"]
ASYMMETRIC_ALGS = [alg for alg in ALL_ALGS if alg not in HMAC_ALGS]

# Upper bound in seconds on one run of the hsmjwt client.
CLI_RUN_TIMEOUT = 60.0


@dataclasses.dataclass
class Encryption:
    """The encryption block of a profile."""
    recipients: list = dataclasses.field(default_factory=list)
    inline_recipients: bool = False
    required: bool = False


@dataclasses.dataclass
class ProfileConfig:
    name: str
    alg: str
    ttl: str = "5m"
    max_ttl: str = "1h"
    audiences: list = None
    encryption: Encryption = None


def _quote(value):
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(value)


def _profile_lines(profile):
    lines = [
        f"  - name: {_quote(profile.name)}",
        f"    alg: {profile.alg}",
        f"    ttl: {profile.ttl}",
        f"    max_ttl: {profile.max_ttl}",
    ]
    if profile.audiences:
        lines.append(f"    audiences: [{', '.join(_quote(a) for a in profile.audiences)}]")
    if profile.encryption is not None:
        enc = profile.encryption
        lines += [
            "    encryption:",
            f"      recipients: [{', '.join(_quote(r) for r in enc.recipients)}]",
            f"      inline_recipients: {'true' if enc.inline_recipients else 'false'}",
            f"      required: {'true' if enc.required else 'false'}",
        ]
    return lines


def render_config(*, grpc_port, http_port, admin_target, token_label, pin_file, profiles,
                  keys=None, recipients=None, issuer=ISSUER):
    """Render a daemon config.

    keys maps keys.* names (pre_publish, refresh, clock_skew) to their YAML
    values. recipients maps a recipient name to its jwk_file path.
    """
    lines = [
        f"issuer: {_quote(issuer)}",
        "listen:",
        f"  grpc: {_quote(f'127.0.0.1:{grpc_port}')}",
        f"  http: {_quote(f'127.0.0.1:{http_port}')}",
    ]
    if admin_target is not None:
        lines.append(f"  admin: {_quote(admin_target)}")
    lines += [
        "hsm:",
        f"  module: {_quote(SOFTHSM_MODULE)}",
        f"  token: {_quote(token_label)}",
        f"  pin_file: {_quote(str(pin_file))}",
        "  generate_missing_keys: true",
    ]
    if keys:
        lines.append("keys:")
        lines += [f"  {name}: {value}" for name, value in keys.items()]
    if recipients:
        lines.append("recipients:")
        for name, path in recipients.items():
            lines += [f"  - name: {_quote(name)}", f"    jwk_file: {_quote(str(path))}"]
    lines.append("profiles:")
    for profile in profiles:
        lines += _profile_lines(profile)
    return "\n".join(lines) + "\n"


def start_daemon(factory, *, profiles, token=None, socket_dir=None, keys=None, recipients=None,
                 issuer=ISSUER):
    """Start a daemon from a DaemonFactory with the config that render_config writes.

    With socket_dir, KeyAdmin listens on a new unix socket there, and
    daemon.admin_target is its gRPC address (else None).
    """
    token = token or factory.token()
    grpc_port, http_port = free_ports(2)
    admin_target = None
    if socket_dir is not None:
        admin_target = f"unix:{Path(socket_dir) / f'admin-{grpc_port}.sock'}"
    text = render_config(grpc_port=grpc_port, http_port=http_port, admin_target=admin_target,
                         token_label=token.label, pin_file=factory.pin_file(token.pin),
                         profiles=profiles, keys=keys, recipients=recipients, issuer=issuer)
    daemon = factory.start_with_config(text, grpc_port, http_port, token)
    daemon.admin_target = admin_target
    return daemon


def make_socket_dir():
    """Create a short folder for unix sockets, whose paths are limited to 107 bytes."""
    return Path(tempfile.mkdtemp(prefix="hsmjwt-it3-", dir="/tmp"))


def remove_socket_dir(path):
    shutil.rmtree(path, ignore_errors=True)


# --- gRPC calls that the harness client does not make ---

def verify(daemon, token, audience="", profile=""):
    """Call TokenService.Verify on the daemon's own channel and return the VerifyResponse."""
    pb = daemon.stubs.hsmjwt
    method = daemon.client.channel.unary_unary(
        "/hsmjwt.v1.TokenService/Verify",
        request_serializer=pb.VerifyRequest.SerializeToString,
        response_deserializer=pb.VerifyResponse.FromString)
    request = pb.VerifyRequest(token=token, audience=audience, profile=profile)
    return method(request, timeout=CALL_TIMEOUT)


def admin_call(daemon, method, request):
    """Call KeyAdmin.<method> on the daemon's admin socket and return the reply.

    Each call opens and closes its own channel, so that no idle connection
    keeps the daemon from exiting quickly at SIGTERM.
    """
    pb = daemon.stubs.hsmjwt
    replies = {"ListKeys": pb.ListKeysResponse, "GenerateKey": pb.Key, "RotateKey": pb.Key,
               "RetireKey": pb.Key, "DestroyKey": pb.DestroyKeyResponse}
    options = [("grpc.enable_http_proxy", 0)]
    with grpc.insecure_channel(daemon.admin_target, options=options) as channel:
        stub = channel.unary_unary(f"/hsmjwt.v1.KeyAdmin/{method}",
                                   request_serializer=type(request).SerializeToString,
                                   response_deserializer=replies[method].FromString)
        return stub(request, timeout=CALL_TIMEOUT)


def list_keys(daemon):
    """Return {kid: Key} from KeyAdmin.ListKeys."""
    reply = admin_call(daemon, "ListKeys", daemon.stubs.hsmjwt.ListKeysRequest())
    return {key.kid: key for key in reply.keys}


def http_jwks(daemon):
    """GET the JWKS over HTTP and return the parsed document."""
    status, _, body = http_get(daemon.http_base + "/.well-known/jwks.json")
    assert status == 200, f"GET /.well-known/jwks.json returned {status}"
    return json.loads(body)


def jwks_kids(jwks):
    return {member["kid"] for member in jwks["keys"]}


def header_of(token):
    return json.loads(b64url_decode(token.split(".")[0]))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value):
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def wait_for(predicate, timeout, description):
    """Call predicate every 0.1 s until it returns a true value, and return that value.

    Fails the test with description in the message when timeout seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.1f} s waiting for {description}", pytrace=False)
        time.sleep(0.1)


def wait_until_clock(unix_seconds, limit=30.0):
    """Sleep until time.time() reaches unix_seconds, which must be at most limit seconds away."""
    remaining = unix_seconds - time.time()
    assert remaining <= limit, f"{unix_seconds} is {remaining:.0f} s away, more than {limit:.0f} s"
    if remaining > 0:
        time.sleep(remaining)


# --- the hsmjwt client ---

def cli_path():
    """Return the client under test: $HSMJWT_CLI, else BUILD/src/cli/hsmjwt beside the daemon."""
    value = os.environ.get("HSMJWT_CLI")
    path = Path(value) if value else daemon_path().parents[1] / "cli" / "hsmjwt"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"hsmjwt not found at {path}; build it with ninja (target src/cli/hsmjwt) "
                    f"or set HSMJWT_CLI to its path", pytrace=False)
    return path


def run_cli(*args):
    """Run the client with args, without HSMJWT_SERVER and HSMJWT_ADMIN from the environment."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("HSMJWT_SERVER", "HSMJWT_ADMIN")}
    return subprocess.run([str(cli_path()), *args], capture_output=True, text=True, env=env,
                          timeout=CLI_RUN_TIMEOUT, check=False)


def cli_json(*args):
    """Run the client with --json, check exit status 0 and return the parsed stdout."""
    result = run_cli("--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- an RSA key made by the test and adopted by the daemon ---

class KnownRsaKey:
    """An RSA-2048 key pair made in the test and imported into a token as hsmjwt:RS256.

    hsmjwtd adopts a labelled key that has no lifecycle record, so the test
    can sign tokens with the same key as the daemon: tokens that are valid
    in every respect but one.
    """

    def __init__(self):
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self.private_key.public_key()

    def public_pem(self):
        return self.public_key.public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)

    def public_der(self):
        return self.public_key.public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)

    def import_into(self, token, directory):
        """Write the pair into token with pkcs11-tool: sensitive, not extractable, CKA_ID random."""
        directory = Path(directory)
        private_der = directory / "known-rsa.der"
        public_der = directory / "known-rsa.pub.der"
        fd = os.open(private_der, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(self.private_key.private_bytes(serialization.Encoding.DER,
                                                     serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
        public_der.write_bytes(self.public_der())
        key_id = os.urandom(16).hex()
        base = [require_tool("pkcs11-tool"), "--module", SOFTHSM_MODULE, "--token-label",
                token.label, "--login", "--pin", "env:HSMJWT_TEST_PKCS11_PIN",
                "--id", key_id, "--label", "hsmjwt:RS256", "--usage-sign"]
        env = dict(os.environ, **token.env, HSMJWT_TEST_PKCS11_PIN=token.pin)
        try:
            for extra in (["--write-object", str(private_der), "--type", "privkey",
                           "--sensitive", "--private"],
                          ["--write-object", str(public_der), "--type", "pubkey"]):
                result = subprocess.run(base + extra, capture_output=True, text=True, env=env,
                                        timeout=TOOL_TIMEOUT, check=False)
                if result.returncode != 0:
                    pytest.fail(f"pkcs11-tool --write-object failed with status "
                                f"{result.returncode}: {result.stderr.strip()}", pytrace=False)
        finally:
            private_der.unlink()

    def sign_compact(self, header, claims, alg):
        """Return a compact JWS of claims under header, signed with alg (RS* or PS*)."""
        signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
        digest = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[alg[2:]]()
        if alg.startswith("PS"):
            scheme = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        else:
            scheme = padding.PKCS1v15()
        signature = self.private_key.sign(signing_input.encode(), scheme, digest)
        return f"{signing_input}.{b64url(signature)}"
