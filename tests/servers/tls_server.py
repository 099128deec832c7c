"""HTTPS for the end-to-end TLS tests (loopback only): the plain test
server's handler, or with --values the leaky server's, behind Python's ssl
module. That module links OpenSSL, so the sensor sees this side too.
"""
import argparse
import json
import ssl

import http_server
import leaky_server


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--values", help="serve the leaky API with these planted values")
    args = parser.parse_args()
    if args.values:
        with open(args.values) as f:
            handler = leaky_server.make_handler(json.load(f))
    else:
        handler = http_server.Handler
    server = http_server.QuietServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    # The handshake runs in accept(); the clients of the tests start theirs
    # as soon as they connect.
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
