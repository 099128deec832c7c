"""HTTPS for the end-to-end TLS tests (loopback only): the plain test
server's handler, or with --values the leaky server's, behind Python's ssl
module. That module links OpenSSL, so the sensor sees this side too.
"""
import argparse
import json
import select
import socket
import ssl

import http_server
import leaky_server


class RetryingWriter:
    """Writes as nginx does: on a non-blocking socket until OpenSSL says
    "want write" (a send found the socket's buffer full), then waits for
    room and calls it again with the same bytes, as OpenSSL requires."""

    def __init__(self, sock):
        self.sock = sock
        self.retries = 0

    def write(self, data):
        view = memoryview(data)
        self.sock.setblocking(False)
        try:
            while view:
                try:
                    view = view[self.sock.send(view):]
                except ssl.SSLWantWriteError:
                    self.retries += 1
                    select.select([], [self.sock], [], 30)
        finally:
            self.sock.setblocking(True)
        return len(data)

    def flush(self):
        pass


def with_retrying_writes(handler, sndbuf):
    class Handler(handler):
        def setup(self):
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
            super().setup()
            self.wfile = RetryingWriter(self.connection)

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--values", help="serve the leaky API with these planted values")
    parser.add_argument(
        "--retrying-writes",
        type=int,
        metavar="SNDBUF",
        help="write responses as nginx does (see RetryingWriter), on sockets "
        "with this SO_SNDBUF: a small one fills behind a slow reader",
    )
    args = parser.parse_args()
    if args.values:
        with open(args.values) as f:
            handler = leaky_server.make_handler(json.load(f))
    else:
        handler = http_server.Handler
    if args.retrying_writes:
        handler = with_retrying_writes(handler, args.retrying_writes)
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
