"""An API with the mistakes the identity-aware detectors look for, for
the end-to-end tests: a login that answers every failure with 200 and an
error body, and says whether the account exists ("No account with this
email" against "Invalid password"); tokens signed with a well-known weak
secret; and orders any logged-in user can read by id, whoever owns them
(BOLA). Loopback only."""

import argparse
import base64
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Weak on purpose: it is on the sensor's bundled list.
SECRET = b"supersecret"

USERS = {
    "alice@acme.test": ("alice-pw", 1),
    "bob@acme.test": ("bob-pw", 2),
    "carol@acme.test": ("carol-pw", 3),
    "mallory@acme.test": ("mallory-pw", 4),
}
# Five orders per user: 101..105 are user 1's, 201..205 user 2's...
ORDERS = {
    100 * uid + i: {"id": 100 * uid + i, "user_id": uid, "total": 10 * i, "status": "shipped"}
    for (_, uid) in USERS.values()
    for i in range(1, 6)
}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_for(email):
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": email, "iss": "identity-api", "iat": now, "exp": now + 900}
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def subject_of(authorization):
    if not authorization or not authorization.startswith("Bearer "):
        return None
    try:
        header, payload, signature = authorization[7:].split(".")
        expected = hmac.new(SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, unb64(signature)):
            return None
        return json.loads(unb64(payload))["sub"]
    except (ValueError, KeyError):
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "identity-api"
    sys_version = ""

    def log_message(self, *args):
        pass

    def send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        user = subject_of(self.headers.get("Authorization"))
        if user not in USERS:
            return self.send(401, {"error": "log in first"})
        uid = USERS[user][1]
        parts = path.strip("/").split("/")
        if path == "/api/orders":
            mine = [{"id": o["id"], "total": o["total"]} for o in ORDERS.values() if o["user_id"] == uid]
            self.send(200, {"orders": mine})
        elif parts[:2] == ["api", "orders"] and len(parts) == 3 and parts[2].isdigit():
            order = ORDERS.get(int(parts[2]))
            # The mistake: no check that the order is the caller's.
            if order is None:
                self.send(404, {"error": "no such order"})
            else:
                self.send(200, order)
        else:
            self.send(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path.split("?", 1)[0] != "/api/login":
            return self.send(404, {"error": "not found"})
        try:
            form = json.loads(body)
        except ValueError:
            return self.send(400, {"success": False, "error": "bad request"})
        email, password = form.get("email", ""), form.get("password", "")
        if email not in USERS:
            self.send(200, {"success": False, "error": "No account with this email"})
        elif USERS[email][0] != password:
            self.send(200, {"success": False, "error": "Invalid password"})
        else:
            self.send(200, {"success": True, "token": token_for(email)})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
