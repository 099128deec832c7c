#!/usr/bin/env python3
"""Generates cases.jsonl: labelled HTTP payloads for the detector corpus test.

Every secret here is synthetic: random characters in the provider's format
(with a valid checksum where the format has one), never a real credential.
Deterministic (fixed seed) so the file only changes when this script does.
Run: python3 tests/corpus/generate.py > tests/corpus/cases.jsonl
"""
import base64
import json
import random
import string
import zlib

R = random.Random(20240601)
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def rnd(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def b62(n, width=6):
    out = ""
    for _ in range(width):
        out = B62[n % 62] + out
        n //= 62
    return out


def crc_token(prefix):
    body = rnd(B62, 30)
    return prefix + body + b62(zlib.crc32(body.encode()))


def luhn_complete(prefix, length):
    digits = [int(c) for c in prefix] + [R.randrange(10) for _ in range(length - len(prefix) - 1)]
    for check in range(10):
        d = digits + [check]
        s = 0
        for i, x in enumerate(reversed(d)):
            if i % 2 == 1:
                x *= 2
                if x > 9:
                    x -= 9
            s += x
        if s % 10 == 0:
            return "".join(map(str, d))


def luhn_fail(prefix, length):
    good = luhn_complete(prefix, length)
    return good[:-1] + str((int(good[-1]) + 3) % 10)


def ssn():
    while True:
        a, g, s = R.randrange(1, 900), R.randrange(1, 100), R.randrange(1, 10000)
        if a != 666:
            return f"{a:03d}-{g:02d}-{s:04d}"


def iban(country, length):
    bban = rnd(string.digits, length - 4)
    num = "".join(str(int(c, 36)) for c in bban + country) + "00"
    check = 98 - int(num) % 97
    return f"{country}{check:02d}{bban}"


def phone():
    return f"+1 {R.randrange(201, 990)} {R.randrange(200, 999)} {R.randrange(1000, 9999)}"


def email():
    first = R.choice(["ann", "bob", "carla", "dmitri", "li.wei", "omar", "sofia", "yuki"])
    return f"{first}.{rnd(string.ascii_lowercase, 4)}@{R.choice(['acme-mail.io', 'corpmail.net', 'fastpost.co.uk', 'gmail.com'])}"


def jwt(header, claims):
    enc = lambda o: base64.urlsafe_b64encode(json.dumps(o, separators=(",", ":")).encode()).decode().rstrip("=")
    sig = "" if header.get("alg") == "none" else rnd(ALNUM + "-_", 43)
    return f"{enc(header)}.{enc(claims)}.{sig}"


def bcrypt():
    return "$2b$12$" + rnd("./" + ALNUM, 53)


cases = []


def case(name, body, expect, ct="application/json", where="response", headers=None, target="/api/v1/resource", tls=False):
    cases.append({
        "name": name, "where": where, "content_type": ct, "body": body,
        "headers": headers or [], "target": target, "tls": tls, "expect": sorted(set(expect)),
    })


J = lambda o: json.dumps(o)

# --- sensitive data: true findings -------------------------------------------
for i in range(8):
    users = [{"id": 1000 + k, "name": f"User {k}", "email": email(), "created_at": "2024-03-1%dT10:22:31Z" % k} for k in range(3)]
    case(f"users-emails-{i}", J({"data": users, "page": 1}), ["pii.email"])
for i in range(6):
    case(f"profile-ssn-{i}", J({"id": R.randrange(10**6), "tax": {"ssn": ssn()}, "status": "active"}), ["pii.ssn", "pii.sensitive_field"] if False else ["pii.ssn"])
for i, (prefix, length) in enumerate([("4", 16), ("51", 16), ("2221", 16), ("37", 15), ("6011", 16), ("3530", 16), ("4", 19), ("55", 16)]):
    n = luhn_complete(prefix, length)
    shown = " ".join(n[j:j + 4] for j in range(0, len(n), 4)) if i % 2 else n
    case(f"payment-card-{i}", J({"order": f"ORD-{R.randrange(10**6)}", "payment": {"card_number": shown, "exp": "04/29"}}), ["pii.card"])
for i, (c, l) in enumerate([("DE", 22), ("FR", 27), ("NL", 18), ("ES", 24), ("GB", 22)]):
    if c in ("NL", "GB"):
        bank = rnd(string.ascii_uppercase, 4)
        body = bank + rnd(string.digits, l - 8)
        num = "".join(str(int(ch, 36)) for ch in body + c) + "00"
        value = f"{c}{98 - int(num) % 97:02d}{body}"
    else:
        value = iban(c, l)
    case(f"payout-iban-{i}", J({"beneficiary": "ACME GmbH", "iban": value, "amount": 120.5}), ["pii.iban"])
for i in range(6):
    case(f"contact-phone-{i}", J({"contact": {"name": "Desk", "phone": phone()}}), ["pii.phone"])
for i in range(4):
    case(f"kyc-dob-{i}", J({"customer": {"id": i, "date_of_birth": f"19{R.randrange(50, 99)}-0{R.randrange(1, 9)}-1{R.randrange(0, 9)}"}}), ["pii.date_of_birth"])
    case(f"kyc-passport-{i}", J({"customer": {"id": i, "passportNumber": rnd(string.ascii_uppercase, 1) + rnd(string.digits, 8)}}), ["pii.government_id"])
for i in range(4):
    case(f"debug-private-ip-{i}", J({"upstream": f"10.{R.randrange(256)}.{R.randrange(256)}.{R.randrange(1, 255)}", "healthy": True}), ["pii.private_ip"])
for i, field in enumerate(["password", "passwordSalt", "cvv", "api_key", "pin", "secret"]):
    value = rnd(ALNUM, 12) if field != "pin" else str(R.randrange(1000, 9999))
    case(f"excessive-exposure-{field}", J({"user": {"id": 7, "login": "ops", field: value}}), ["pii.sensitive_field"])
case("form-response-email", f"status=ok&email={email().replace('@', '%40')}", ["pii.email"], ct="application/x-www-form-urlencoded")
case("html-profile", f"<html><body><p>Contact: {email()}</p><p>Phone: {phone()}</p></body></html>", ["pii.email", "pii.phone"], ct="text/html")

# --- secrets: true findings ---------------------------------------------------
def aws_key(prefix="AKIA"):
    return prefix + rnd("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)

secrets = [
    ("aws-key-id", aws_key(), "secret.aws_access_key_id"),
    ("aws-temp-key-id", aws_key("ASIA"), "secret.aws_access_key_id"),
    ("google-api", "AIza" + rnd(ALNUM + "-_", 35), "secret.google_api_key"),
    ("google-oauth-secret", "GOCSPX-" + rnd(ALNUM + "-_", 28), "secret.google_oauth_client_secret"),
    ("google-access", "ya29." + rnd(ALNUM + "-_", 60), "secret.google_oauth_access_token"),
    ("stripe", "sk_live_" + rnd(ALNUM, 24), "secret.stripe_key"),
    ("stripe-restricted", "rk_live_" + rnd(ALNUM, 32), "secret.stripe_key"),
    ("picatic", "sk_live_" + rnd(string.ascii_lowercase + string.digits, 32), "secret.picatic_key"),
    ("square", "sq0atp-" + rnd(ALNUM + "-_", 22), "secret.square_token"),
    ("square-secret", "sq0csp-" + rnd(ALNUM + "-_", 43), "secret.square_token"),
    ("braintree", f"access_token$production${rnd(string.ascii_lowercase + string.digits, 16)}${rnd(HEX, 32)}", "secret.braintree_token"),
    ("mws", f"amzn.mws.{rnd(HEX, 8)}-{rnd(HEX, 4)}-{rnd(HEX, 4)}-{rnd(HEX, 4)}-{rnd(HEX, 12)}", "secret.amazon_mws_token"),
    ("twilio", "SK" + rnd(HEX, 32), "secret.twilio_api_key"),
    ("sendgrid", f"SG.{rnd(ALNUM + '-_', 22)}.{rnd(ALNUM + '-_', 43)}", "secret.sendgrid_key"),
    ("mailgun", "key-" + rnd(string.ascii_lowercase + string.digits, 32), "secret.mailgun_key"),
    ("mailchimp", rnd(HEX, 32) + "-us" + str(R.randrange(1, 20)), "secret.mailchimp_key"),
    ("slack-bot", f"xoxb-{rnd(string.digits, 11)}-{rnd(string.digits, 13)}-{rnd(ALNUM, 24)}", "secret.slack_token"),
    ("slack-webhook", f"https://hooks.slack.com/services/T{rnd(string.ascii_uppercase + string.digits, 8)}/B{rnd(string.ascii_uppercase + string.digits, 10)}/{rnd(ALNUM, 24)}", "secret.slack_webhook"),
    ("github-pat-classic", crc_token("ghp_"), "secret.github_token"),
    ("github-oauth", crc_token("gho_"), "secret.github_token"),
    ("github-app", crc_token("ghs_"), "secret.github_token"),
    ("github-fine", f"github_pat_{rnd(ALNUM, 22)}_{rnd(ALNUM, 59)}", "secret.github_token"),
    ("gitlab", "glpat-" + rnd(ALNUM + "-_", 20), "secret.gitlab_token"),
    ("npm", crc_token("npm_"), "secret.npm_token"),
    ("nuget", "oy2" + rnd(string.ascii_lowercase + string.digits, 43), "secret.nuget_key"),
    ("sonarqube", "squ_" + rnd(HEX, 40), "secret.sonarqube_token"),
    ("stackhawk", f"hawk.{rnd(ALNUM, 20)}.{rnd(ALNUM, 20)}", "secret.stackhawk_key"),
    ("facebook", "EAACEdEose0cBA" + rnd(ALNUM, 120), "secret.facebook_access_token"),
    ("openai", f"sk-proj-{rnd(ALNUM, 40)}T3BlbkFJ{rnd(ALNUM, 40)}", "secret.openai_key"),
    ("anthropic", f"sk-ant-api03-{rnd(ALNUM + '-_', 93)}AA", "secret.anthropic_key"),
    ("bcrypt", bcrypt(), "secret.password_hash"),
    ("sha512crypt", "$6$rounds=5000$" + rnd("./" + ALNUM, 16) + "$" + rnd("./" + ALNUM, 86), "secret.password_hash"),
    ("django-pbkdf2", f"pbkdf2_sha256$600000${rnd(ALNUM, 22)}${base64.b64encode(bytes(R.randrange(256) for _ in range(32))).decode()}", "secret.password_hash"),
    ("postgres-uri", f"postgresql://app_rw:{rnd(ALNUM, 16)}@pg-primary.internal:5432/orders", "secret.database_uri"),
    ("redis-uri", f"redis://default:{rnd(ALNUM, 20)}@cache-01.internal:6379/0", "secret.database_uri"),
    ("amqp-uri", f"amqps://billing:{rnd(ALNUM, 18)}@mq.internal:5671/prod", "secret.database_uri"),
    ("url-creds", f"https://deploy:{rnd(ALNUM, 14)}@artifacts.corp-tools.net/repo", "secret.url_credentials"),
]
for name, value, rule in secrets:
    case(f"secret-json-{name}", J({"integration": name, "config": {"credential": value, "enabled": True}}), [rule])
for name, value, rule in secrets[:12]:
    case(f"secret-env-{name}", f"# exported settings\nSERVICE_CREDENTIAL={value}\nLOG_LEVEL=debug\n", [rule], ct="text/plain")
case("aws-secret-key-field", J({"aws_access_key_id": aws_key(), "aws_secret_access_key": rnd(ALNUM + "/+", 40)}), ["secret.aws_access_key_id", "secret.aws_secret_key"])
case("aws-session-token-field", J({"AccessKeyId": aws_key("ASIA"), "SessionToken": "FwoGZXIvYXdzE" + rnd(ALNUM + "/+", 300)}), ["secret.aws_access_key_id", "secret.aws_session_token"])
case("sauce-env", f"SAUCE_ACCESS_KEY={rnd(HEX, 8)}-{rnd(HEX, 4)}-{rnd(HEX, 4)}-{rnd(HEX, 4)}-{rnd(HEX, 12)}\n", ["secret.sauce_access_key"], ct="text/plain")
case("hockeyapp-json", J({"hockeyapp_token": rnd(HEX, 32)}), ["secret.hockeyapp_token"])
pem_body = base64.b64encode(bytes(R.randrange(256) for _ in range(300))).decode()
for kind in ["RSA ", "EC ", "OPENSSH ", ""]:
    pem = f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(pem_body[j:j + 64] for j in range(0, len(pem_body), 64)) + f"\n-----END {kind}PRIVATE KEY-----\n"
    case(f"pem-{kind.strip().lower() or 'pkcs8'}", J({"tls": {"cert": "-----BEGIN CERTIFICATE-----\nMIIB...", "key": pem}}), ["secret.private_key"])
now = 1717200000
case("jwt-alg-none", J({"access_token": jwt({"alg": "none", "typ": "JWT"}, {"sub": "u-81", "iat": now, "exp": now + 900})}), ["secret.jwt_alg_none"])
case("jwt-no-exp", J({"session": jwt({"alg": "HS256", "typ": "JWT"}, {"sub": "u-81", "iat": now})}), ["secret.jwt_no_expiry"])
case("jwt-long-life", J({"session": jwt({"alg": "RS256", "typ": "JWT"}, {"sub": "u-81", "iat": now, "exp": now + 90 * 86400})}), ["secret.jwt_long_lifetime"])
case("jwt-sensitive-claims", J({"session": jwt({"alg": "HS256"}, {"sub": "u-81", "iat": now, "exp": now + 600, "ssn": ssn()})}), ["secret.jwt_sensitive_claims"])
case("basic-auth-plaintext", "", ["secret.basic_auth"], ct="", where="request",
     headers=[["Authorization", "Basic " + base64.b64encode(f"svc-report:{rnd(ALNUM, 12)}".encode()).decode()]])
case("token-in-query", "", ["secret.github_token"], ct="", where="request", target=f"/hooks/ci?token={crc_token('ghp_')}&run=77")

# --- verbose errors: true findings -------------------------------------------
errors = [
    ("python", 'Traceback (most recent call last):\n  File "/srv/app/api/views.py", line 88, in get_order\n    order = Order.objects.get(pk=pk)\nDoesNotExist: Order matching query does not exist.', ["error.stack_trace.python", "error.filesystem_path"]),
    ("java", "java.lang.NullPointerException: Cannot invoke \"String.length()\"\n\tat com.acme.orders.OrderService.total(OrderService.java:142)\n\tat com.acme.orders.OrderController.get(OrderController.java:57)\n\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)", ["error.stack_trace.jvm"]),
    ("dotnet", "System.NullReferenceException: Object reference not set to an instance of an object.\n   at Acme.Orders.OrderService.Total(Order order) in C:\\build\\src\\Orders\\OrderService.cs:line 42\n   at Acme.Api.Controllers.OrdersController.Get(Int32 id)", ["error.stack_trace.dotnet"]),
    ("node", "TypeError: Cannot read properties of undefined (reading 'id')\n    at getUser (/usr/src/app/routes/users.js:27:19)\n    at Layer.handle [as handle_request] (/usr/src/app/node_modules/express/lib/router/layer.js:95:5)", ["error.stack_trace.node"]),
    ("go", "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation]\n\ngoroutine 42 [running]:\nmain.handler(0xc000010000)\n\t/build/cmd/api/main.go:51 +0x1d", ["error.stack_trace.go"]),
    ("ruby", "NoMethodError (undefined method `name' for nil:NilClass):\n  app/controllers/users_controller.rb:14:in `show'\n  actionpack (7.0.4) lib/action_controller/metal/basic_implicit_render.rb:6:in `send_action'", ["error.stack_trace.ruby"]),
    ("php", "PHP Fatal error:  Uncaught Error: Call to a member function fetch() on bool in /var/www/html/api/orders.php:33\nStack trace:\n#0 /var/www/html/index.php(12): get_order()\n#1 {main}", ["error.stack_trace.php", "error.filesystem_path"]),
    ("mysql", "Query failed: You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near ''1'' at line 1", ["error.sql.mysql"]),
    ("postgres", 'ERROR:  syntax error at or near "FROM"\nLINE 1: SELECT id, FROM orders WHERE id = 5', ["error.sql.postgresql"]),
    ("sqlite", "sqlite3.OperationalError: no such column: usr_name", ["error.sql.sqlite"]),
    ("oracle", "ORA-01756: quoted string not properly terminated", ["error.sql.oracle"]),
    ("mssql", "Unclosed quotation mark after the character string 'abc'. Incorrect syntax near 'abc'.", ["error.sql.mssql"]),
    ("sqlstate", "SQLSTATE[42S22]: Column not found: 1054", ["error.sql.sqlstate"]),
]
for name, text, rules in errors:
    case(f"error-text-{name}", text, rules, ct="text/plain")
    case(f"error-json-{name}", J({"error": "internal", "detail": text}), rules)
pages = [
    ("werkzeug", '<html><head><title>KeyError // Werkzeug Debugger</title></head><body><div class="debugger">', ["error.debug_page.werkzeug"]),
    ("django", "<html><body><table><tr><th>Django Version:</th><td>4.2.1</td></tr></table><p>You're seeing this error because you have <code>DEBUG = True</code> in your Django settings file.</p>", ["error.debug_page.django"]),
    ("rails", "<html><head><title>Action Controller: Exception caught</title></head><body><h1>ActiveRecord::RecordNotFound</h1>", ["error.debug_page.rails"]),
    ("laravel", "<!doctype html><title>Whoops! There was an error.</title><div class=\"exception\">Illuminate\\Database\\QueryException", ["error.debug_page.laravel"]),
    ("spring", "<html><body><h1>Whitelabel Error Page</h1><div>There was an unexpected error (type=Internal Server Error, status=500).</div><div style='white-space:pre-wrap;'>java.lang.IllegalStateException: boom\n\tat com.acme.web.Api.get(Api.java:31)\n</div></body></html>", ["error.debug_page.spring", "error.stack_trace.jvm"]),
    ("aspnet", "<html><head><title>Runtime Error</title></head><body><h1>Server Error in '/' Application.</h1><h2><i>Runtime Error</i></h2>", ["error.debug_page.aspnet"]),
    ("express", "<!DOCTYPE html><html><body><pre>TypeError: Cannot read properties of undefined<br> &nbsp; &nbsp;at /app/server.js:14:22<br> &nbsp; &nbsp;at Layer.handle</pre></body></html>", ["error.debug_page.express", "error.stack_trace.node"]),
]
for name, html, rules in pages:
    case(f"debug-page-{name}", html, rules, ct="text/html")
case("spring-json-trace", J({"timestamp": "2024-06-01T10:00:00.000+00:00", "status": 500, "error": "Internal Server Error", "trace": "java.lang.IllegalStateException: boom\n\tat com.acme.web.Api.get(Api.java:31)\n", "path": "/api/x"}), ["error.debug_page.spring", "error.stack_trace.jvm"])
case("fs-path-json", J({"error": "template missing", "template": "/home/deploy/app/releases/2024/templates/invoice.html"}), ["error.filesystem_path"])
case("fs-path-windows", J({"error": "cannot open C:\\inetpub\\wwwroot\\App_Data\\orders.mdf"}), ["error.filesystem_path"])
case("banner-headers", "", ["error.version_banner"], ct="", headers=[["Server", "Apache/2.4.41 (Ubuntu)"], ["X-Powered-By", "PHP/7.4.3"]])
case("banner-aspnet", "", ["error.version_banner"], ct="", headers=[["X-AspNet-Version", "4.0.30319"]])

# --- hard negatives -------------------------------------------------------------
for i in range(6):
    items = [{
        "id": f"{rnd(HEX, 8)}-{rnd(HEX, 4)}-4{rnd(HEX, 3)}-a{rnd(HEX, 3)}-{rnd(HEX, 12)}",
        "order_number": f"{R.randrange(10**15, 10**16)}" if i % 2 else f"ORD-{R.randrange(10**8)}",
        "sku": f"SKU-{R.randrange(10**6)}",
        "price": round(R.random() * 100, 2),
        "created_at": f"2024-0{R.randrange(1, 9)}-1{R.randrange(0, 9)}T1{R.randrange(0, 9)}:2{R.randrange(0, 9)}:00Z",
        "updated_ms": R.randrange(1_600_000_000_000, 1_800_000_000_000),
    } for _ in range(5)]
    for it in items:
        if it["order_number"].isdigit():
            # Luhn-failing on purpose when it would pass.
            it["order_number"] = luhn_fail("4", 16)
    case(f"neg-orders-{i}", J({"items": items, "total": 5}), [])
for i in range(4):
    case(f"neg-hashes-{i}", J({"file": f"build-{i}.tar.gz", "sha256": rnd(HEX, 64), "md5": rnd(HEX, 32), "etag": '"' + rnd(HEX, 40) + '"', "commit": rnd(HEX, 40)}), [])
case("neg-aws-example", J({"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}), [])
case("example-test-cards", J({"docs": {"visa": "4111 1111 1111 1111", "mc": "5555555555554444", "stripe": "4242424242424242"}}), ["pii.example.card"])
case("example-ibans", J({"sample": "DE89370400440532013000", "uk": "GB82WEST12345698765432"}), ["pii.example.iban"])
case("neg-example-emails", J({"to": "someone@example.com", "cc": "qa@example.org"}), [])
case("example-ssns", J({"sample_ssn": "123-45-6789", "woolworth": "078-05-1120", "bad_area": "666-12-3456", "zero_group": "123-00-4567"}), ["pii.example.ssn"])
case("example-fictional-phone", J({"support": "415-555-0142"}), ["pii.example.phone"])
case("neg-timestamps", J({"events": [{"at": "2024-06-01 12:30:45", "epoch": 1717245045, "epoch_ms": 1717245045123, "duration": "00:12:30"} for _ in range(3)]}), [])
case("neg-versions", J({"app": "3.12.4", "build": "2024.06.01.1234", "schema": 10}), [])
case("neg-masked", J({"user": {"password": "", "token": None, "card": "**** **** **** 4242", "pin": "****"}}), [])
case("neg-placeholders", J({"db": "postgres://user:password@localhost:5432/app", "url": "https://${USER}:${PASS}@host/x", "key": "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"}), [])
# A healthy token is still a finding in a response body (issue 11), at low
# severity: `secret.jwt_exposed` (which, like every rule on the value, keeps
# the field-name fallback `pii.sensitive_field` quiet).
case("neg-jwt-healthy", J({"access_token": jwt({"alg": "RS256", "typ": "JWT"}, {"sub": "u-81", "iat": now, "exp": now + 900})}), ["secret.jwt_exposed"])
case("neg-jwt-io-example", "Authorization example: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", [], ct="text/plain")
case("neg-bad-crc-github", J({"token_like": "ghp_" + rnd(B62, 36)}), [])
case("neg-html-page", "<html><head><title>Orders</title><link href=\"/static/app.css\"></head><body><a href=\"/users/42\">Profile</a><p>Call us at 1-800-FLOWERS</p><img src=\"logo@2x.png\"></body></html>", [], ct="text/html")
case("neg-error-generic", J({"error": "validation_failed", "message": "field 'email' is required", "code": 422}), [])
case("neg-public-ip", J({"client_ip": "203.0.113.7", "dns": "8.8.8.8"}), [])
case("neg-binary", "\x89PNG\r\n\x1a\n" + "password=hunter2 " + luhn_complete("4", 16), [], ct="image/png")
case("neg-bare-9digits", J({"account": 536228726, "ref": "000123456"}), [])
case("neg-uuid-list", J({"ids": [f"{rnd(HEX, 8)}-{rnd(HEX, 4)}-{rnd(HEX, 4)}-{rnd(HEX, 4)}-{rnd(HEX, 12)}" for _ in range(10)]}), [])
case("neg-nginx-no-version", "", [], ct="", headers=[["Server", "nginx"], ["X-Powered-By", "Express"]])
case("neg-basic-over-tls", "", [], ct="", where="request", tls=True,
     headers=[["Authorization", "Basic " + base64.b64encode(b"svc:" + rnd(ALNUM, 10).encode()).decode()]])

# Regression cases for issue 11 (formats and false positives found by
# `cargo xtask quality` on public test suites). Written for this corpus,
# not copied from those suites; appended last so earlier cases keep their
# random values.
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l".upper()
LETTERS = string.ascii_letters
case("reg11-generic-config", J({"settings": 'DATADOG_API_KEY = "' + rnd(HEX, 32) + '"'}), ["secret.generic_credential"])
case("reg11-generic-env-dump", "APP_ENV=prod\nPAYMENTS_SECRET=" + rnd(ALNUM, 40) + "\nLOG_LEVEL=info\n", ["secret.generic_credential"], ct="text/plain")
case("reg11-age-key", J({"identity": "AGE-SECRET-KEY-1" + rnd(BECH32, 58)}), ["secret.age_secret_key"])
case("reg11-huggingface", J({"hub": {"credential": "hf_" + rnd(LETTERS, 34)}}), ["secret.huggingface_token"])
case("reg11-sentry-user", J({"sentry": "sntryu_" + rnd(HEX, 64)}), ["secret.sentry_token"])
case("reg11-openshift", J({"oc": "sha256~" + rnd(ALNUM + "_-", 43)}), ["secret.openshift_token"])
al = iban("AL", 28)
case("reg11-iban-albania", J({"beneficiary": {"account": " ".join(al[i:i + 4] for i in range(0, 28, 4))}}), ["pii.iban"])
case("reg11-email-punycode", J({"contact": "ivan." + rnd(string.ascii_lowercase, 4) + "@xn--80ak6aa92e.com"}), ["pii.email"])
case("reg11-phone-national", J({"customer": {"mobile_phone": f"090-{R.randrange(1000, 9999)}-{R.randrange(1000, 9999)}"}}), ["pii.phone_national"])
case("reg11-card-uatp", J({"payment": {"number": luhn_complete("1", 15)}}), ["pii.card"])
case("reg11-neg-slack-placeholders", J({"example": "xoxb-12345-abcd234", "legacy": "xoxp-1234567890"}), [])
case("reg11-neg-ssn-field-invalid", J({"ssn": "078-05-0000"}), [])
case("reg11-neg-generic-placeholders", J({"config": 'API_KEY = "<YOUR_API_KEY>"', "env": 'password = "changeme"'}), [])
case("reg11-neg-github-pat-placeholder", J({"token_example": "github_pat_" + "x" * 22 + "_" + "x" * 59}), [])
case("reg11-neg-camelcase", J({"docs": 'tokenClass = "ThisIsJustAWordInCamelCaseHere"'}), [])

for c in cases:
    print(json.dumps(c, sort_keys=True))
