"""A one-thread HTTP server that renames its thread on request.

GET /rename?name=N sets the serving thread's name (prctl PR_SET_NAME, what
`ps` and the sensor's process filters see) before it answers; any other
path answers a small JSON document. One thread serves every request, so
the name each response is sent under is the last one asked for.
"""

import argparse
import ctypes
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

PR_SET_NAME = 15
libc = ctypes.CDLL(None, use_errno=True)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/rename":
            name = parse_qs(url.query)["name"][0].encode()[:15]
            if libc.prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME)")
        body = b'{"ok": 1}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = HTTPServer(("127.0.0.1", args.port), Handler)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
