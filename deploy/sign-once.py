#!/usr/bin/python3
"""Call TokenService.Sign once and print the token.

A minimal gRPC client for the quickstart and for trying the API by hand.
It compiles proto/hsmjwt/v1/hsmjwt.proto with protoc at start, so it needs
Debian's protobuf-compiler, python3-protobuf and python3-grpcio.

    deploy/sign-once.py [--server 127.0.0.1:50051] [--profile NAME]
                        [--claims JSON] [--ttl SECONDS] [--aud AUDIENCE ...]
"""

import argparse
import importlib
import os
import subprocess
import sys
import tempfile

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO_DIR = os.path.join(ROOT, "proto", "hsmjwt", "v1")


def load_messages():
    """Generate hsmjwt_pb2 into a temporary folder and import it."""
    out = tempfile.mkdtemp(prefix="hsmjwt-proto-")
    subprocess.run(["protoc", f"--proto_path={PROTO_DIR}", f"--python_out={out}",
                    os.path.join(PROTO_DIR, "hsmjwt.proto")], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("hsmjwt_pb2")


def main():
    parser = argparse.ArgumentParser(description="Sign one claim set with hsmjwtd.")
    parser.add_argument("--server", default="127.0.0.1:50051",
                        help="gRPC address of hsmjwtd (default 127.0.0.1:50051)")
    parser.add_argument("--profile", default="", help="profile name (default: default)")
    parser.add_argument("--claims", default='{"sub":"quickstart"}',
                        help="claim set as a JSON object")
    parser.add_argument("--ttl", type=int, default=0,
                        help="lifetime in seconds (0: the profile's ttl)")
    parser.add_argument("--aud", action="append", default=[], help="audience; repeatable")
    args = parser.parse_args()

    pb = load_messages()
    with grpc.insecure_channel(args.server) as channel:
        sign = channel.unary_unary("/hsmjwt.v1.TokenService/Sign",
                                   request_serializer=pb.SignRequest.SerializeToString,
                                   response_deserializer=pb.SignResponse.FromString)
        request = pb.SignRequest(profile=args.profile, claims_json=args.claims,
                                 ttl_seconds=args.ttl, audience=args.aud)
        try:
            response = sign(request, timeout=10)
        except grpc.RpcError as e:
            print(f"sign failed: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    print(response.token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
