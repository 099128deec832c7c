#!/usr/bin/env python3
"""A gRPC client (grpcio) for grpc_server.py: one channel, so one HTTP/2
connection, carrying a unary call, a server-streaming call and a failing
call. Prints one JSON line per call: the method path, the request and
response message sizes (what the sensor's byte counts must add up to, 5
bytes of prefix per message) and the status code."""

import argparse
import json
import sys

import grpc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    ident = lambda b: b
    request = b"\x0a\x06acct-1"
    with grpc.insecure_channel("127.0.0.1:%d" % args.port) as channel:
        calls = [
            ("/leak.v1.Accounts/GetAccount", channel.unary_unary),
            ("/leak.v1.Accounts/ListAccounts", channel.unary_stream),
            ("/leak.v1.Accounts/Fail", channel.unary_unary),
        ]
        for path, kind in calls:
            call = kind(path, request_serializer=ident, response_deserializer=ident)
            code = "OK"
            responses = []
            try:
                got = call(request, timeout=10)
                responses = [got] if isinstance(got, bytes) else list(got)
            except grpc.RpcError as e:
                code = e.code().name
            print(
                json.dumps(
                    {
                        "path": path,
                        "request_len": len(request),
                        "response_lens": [len(r) for r in responses],
                        "code": code,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
