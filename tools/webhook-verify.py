#!/usr/bin/env python3
"""Verifies a webhook request the Assent webhook forwarder sent (Standard Webhooks signatures).

Usage: webhook-verify.py SECRET_FILE REQUEST_JSON [--tolerance SECONDS]
       webhook-verify.py SECRET_FILE --serve PORT

--serve: a local receiver for trying the forwarder out: listens on 127.0.0.1:PORT, verifies each
POST, prints its id, verdict and body, and answers 204 (401 when the signature does not verify).

SECRET_FILE holds the endpoint's secret(s), one "whsec_<base64>" per line (as given to the
forwarder). REQUEST_JSON is a captured request: {"headers": {"webhook-id": ..., "webhook-timestamp":
..., "webhook-signature": ...}, "body": "<the raw body, exactly as received>"}. Exit status 0 when
one signature verifies with one of the secrets and the timestamp is within the tolerance (default
300 s; 0 turns the check off, for old captures), 1 when not, 2 for bad input.
"""
import base64
import hashlib
import hmac
import json
import sys
import time


def keys(path):
    out = []
    with open(path, encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not line.startswith("whsec_"):
                raise ValueError("a secret must start with whsec_")
            out.append(base64.b64decode(line[len("whsec_"):], validate=True))
    return out


def verify(secrets, msg_id, timestamp, body, header):
    signed = f"{msg_id}.{timestamp}.".encode() + body
    for key in secrets:
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for part in header.split(" "):
            version, _, signature = part.partition(",")
            if version == "v1" and hmac.compare_digest(signature, expected):
                return True
    return False


def serve(secrets, port, tolerance):
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            msg_id = self.headers.get("webhook-id", "")
            try:
                timestamp = int(self.headers.get("webhook-timestamp", ""))
            except ValueError:
                timestamp = 0
            ok = verify(secrets, msg_id, timestamp, body, self.headers.get("webhook-signature", ""))
            ok = ok and (tolerance <= 0 or abs(time.time() - timestamp) <= tolerance)
            print(f"{msg_id} {'verified' if ok else 'REFUSED'} {body.decode('utf-8', 'replace')}",
                  flush=True)
            self.send_response(204 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    tolerance = 300
    for i, a in enumerate(argv):
        if a.startswith("--tolerance"):
            tolerance = int(a.split("=", 1)[1] if "=" in a else argv[i + 1])
            if "=" not in a:
                args.remove(argv[i + 1])
    if "--serve" in argv:
        port = int(argv[argv.index("--serve") + 1])
        serve(keys(argv[1]), port, tolerance)
        return 0
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        secrets = keys(args[0])
        with open(args[1], encoding="utf-8") as f:
            request = json.load(f)
        headers = {k.lower(): v for k, v in request["headers"].items()}
        msg_id = headers["webhook-id"]
        timestamp = int(headers["webhook-timestamp"])
        header = headers["webhook-signature"]
        body = request["body"].encode("utf-8")
    except (OSError, ValueError, KeyError) as e:
        print(f"webhook-verify: {e}", file=sys.stderr)
        return 2
    if tolerance > 0 and abs(time.time() - timestamp) > tolerance:
        print("webhook-verify: timestamp outside the tolerance", file=sys.stderr)
        return 1
    if not verify(secrets, msg_id, timestamp, body, header):
        print("webhook-verify: no signature matches", file=sys.stderr)
        return 1
    print(f"verified {msg_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
