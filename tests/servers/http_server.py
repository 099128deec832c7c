"""HTTP/1.1 test server for the end-to-end tests (loopback only).

GET  /bytes/N    N bytes of body (Content-Length)
GET  /chunked/N  N bytes of body in chunked transfer encoding, in chunks of
                 1000 bytes (?chunk=SIZE: of SIZE), each chunk one write
GET  /item/ID    a small JSON document
POST /upload     reads the body (Content-Length or chunked), answers its size
anything else    a small JSON document
"""
import argparse
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_body(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] == "bytes" and len(parts) == 2:
            n = int(parts[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = b"x" * 65536
            while n > 0:
                piece = block[: min(n, len(block))]
                self.wfile.write(piece)
                n -= len(piece)
            return
        if parts[0] == "chunked" and len(parts) == 2:
            n = int(parts[1])
            query = self.path.partition("?")[2]
            chunk = int(query[len("chunk="):]) if query.startswith("chunk=") else 1000
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while n > 0:
                size = min(n, chunk)
                self.wfile.write(b"%x\r\n%s\r\n" % (size, b"y" * size))
                n -= size
            self.wfile.write(b"0\r\n\r\n")
            return
        body = json.dumps({"path": self.path, "id": parts[-1]}).encode()
        self.send_body(200, body)

    do_HEAD = do_GET

    def do_POST(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            total = 0
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += len(self.rfile.read(size))
                self.rfile.readline()
        else:
            total = len(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.send_body(200, json.dumps({"received": total}).encode())


class QuietServer(ThreadingHTTPServer):
    # Tests send garbage and reset connections on purpose; a traceback per
    # hostile peer would bury real failures in the test output.
    def handle_error(self, request, client_address):
        pass


class V6Server(QuietServer):
    address_family = socket.AF_INET6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    args = parser.parse_args()
    cls = V6Server if ":" in args.bind else QuietServer
    cls.daemon_threads = True
    server = cls((args.bind, args.port), Handler)
    print("listening", flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
