"""An API that leaks: planted sensitive data, secrets and verbose errors.

The planted values come from a JSON file the test writes (so the test knows
every raw value and can check the sensor never repeats one). All values are
synthetic: format-valid, never real credentials.
"""

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(values):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # No version in the default Server header: only /api/crash leaks one.
        server_version = "api"
        sys_version = ""

        def log_message(self, *args):
            pass

        def send(self, status, body, content_type="application/json", headers=()):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/api/users":
                users = [
                    {
                        "id": 1,
                        "name": "Maria Gonzalez",
                        "email": values["email"],
                        "ssn": values["ssn"],
                        "card_number": values["card"],
                        "password_hash": values["bcrypt"],
                        "order_id": "ORD-2026-000154",
                        "created_at": "2026-11-23T08:00:00Z",
                    }
                ]
                self.send(200, json.dumps({"users": users}))
            elif self.path == "/api/config":
                config = {
                    "aws_access_key_id": values["aws_key_id"],
                    "aws_secret_access_key": values["aws_secret"],
                    "github_token": values["github_token"],
                    "private_key": values["private_key"],
                }
                self.send(200, json.dumps(config))
            elif self.path == "/api/crash":
                trace = (
                    "Traceback (most recent call last):\n"
                    '  File "/srv/app/views.py", line 42, in checkout\n'
                    "    total = compute(order)\n"
                    '  File "/srv/app/billing.py", line 17, in compute\n'
                    "    return order.amount / order.count\n"
                    "ZeroDivisionError: division by zero\n"
                )
                self.send(
                    500,
                    "<html><body><pre>" + trace + "</pre></body></html>",
                    "text/html",
                    [("Server", "Apache/2.4.41 (Ubuntu)"), ("X-Powered-By", "PHP/7.4.3")],
                )
            elif self.path == "/api/search":
                error = (
                    "You have an error in your SQL syntax; check the manual that "
                    "corresponds to your MySQL server version for the right syntax "
                    "to use near ''' at line 1"
                )
                self.send(500, json.dumps({"error": error}))
            elif self.path == "/health":
                self.send(200, json.dumps({"status": "ok", "uptime_seconds": 5321}))
            else:
                self.send(404, json.dumps({"error": "not found"}))

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--values", required=True)
    args = parser.parse_args()
    with open(args.values) as f:
        values = json.load(f)
    server = QuietServer(("127.0.0.1", args.port), make_handler(values))
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
