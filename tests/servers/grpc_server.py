#!/usr/bin/env python3
"""A gRPC server (grpcio, plaintext HTTP/2) whose responses leak planted
values in nested protobuf messages.

Service leak.v1.Accounts, messages encoded by hand (no generated code):
  Account  { 1: id, 2: Customer }
  Customer { 1: name, 3: Identity { 1: ssn }, 4: Credentials { 1: aws_key_id } }
Methods: GetAccount (unary), ListAccounts (server streaming, gzip),
Fail (unary, INTERNAL with a stack trace as grpc-message).
Prints "listening" once serving.
"""

import argparse
import json
import sys
from concurrent import futures

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, value):
    if isinstance(value, str):
        value = value.encode()
    return varint(number << 3 | 2) + varint(len(value)) + value


def account(values, n):
    identity = field(1, values["ssn"])
    credentials = field(1, values["aws_key_id"])
    customer = (
        field(1, "Alice Example")
        + varint(2 << 3) + varint(1970 + n)
        + field(3, identity)
        + field(4, credentials)
    )
    return field(1, "acct-%d" % n) + field(2, customer)


TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/srv/accounts/service.py", line 88, in fail\n'
    "    row = db.execute(query).fetchone()\n"
    '  File "/usr/lib/python3/dist-packages/sqlalchemy/engine/base.py", line 1412, in execute\n'
    "    return meth(self, multiparams, params, execution_options)\n"
    "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) could not connect to server"
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--values", required=True)
    args = ap.parse_args()
    with open(args.values) as f:
        values = json.load(f)

    def get_account(request, context):
        return account(values, 1)

    def list_accounts(request, context):
        context.set_compression(grpc.Compression.Gzip)
        for n in range(3):
            yield account(values, n)

    def fail(request, context):
        context.abort(grpc.StatusCode.INTERNAL, TRACE)

    ident = lambda b: b
    handlers = {
        "GetAccount": grpc.unary_unary_rpc_method_handler(
            get_account, request_deserializer=ident, response_serializer=ident
        ),
        "ListAccounts": grpc.unary_stream_rpc_method_handler(
            list_accounts, request_deserializer=ident, response_serializer=ident
        ),
        "Fail": grpc.unary_unary_rpc_method_handler(
            fail, request_deserializer=ident, response_serializer=ident
        ),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("leak.v1.Accounts", handlers),)
    )
    server.add_insecure_port("127.0.0.1:%d" % args.port)
    server.start()
    print("listening", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
