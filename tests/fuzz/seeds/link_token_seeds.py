#!/usr/bin/env python3
"""Writes the link_token harness's seed tokens (corpus/link_token/t_*), signed with the keys the
harness holds (link_token_fuzz.cc), so that the committed corpus starts past the signature check.
Usage: tests/fuzz/seeds/link_token_seeds.py  (rewrites the files; run from anywhere)."""
import base64
import hashlib
import hmac
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "link_token")
KEYS = {"2026-12": b"k" * 32, "acme-only": b"a" * 32}
LEGACY = b"0123456789abcdef0123456789abcdef"
HASH = "ab" * 32


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hm(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def v2(kid: str, payload: str) -> str:
    tenant = payload.split("\n")[0]
    key = hm(KEYS[kid], "assent/link-key/v2/" + tenant)
    signed = f"v2.{kid}.{b64(payload.encode())}"
    return f"{signed}.{b64(hm(key, signed))}"


def v1(payload: str) -> str:
    tenant = payload.split("\n")[0]
    key = hm(LEGACY, "assent/unsubscribe-key/v1/" + tenant)
    signed = f"v1.{b64(payload.encode())}"
    return f"{signed}.{b64(hm(key, signed))}"


SEEDS = {
    "t_v2_preferences": v2("2026-12", "acme\np\ns:cust-1\n\n0\n1893456000"),
    "t_v2_unsubscribe_contact": v2("acme-only", f"acme\nu\nc:email:{HASH}\nnews\n1\n1893456000"),
    "t_v2_expired": v2("2026-12", "acme\np\ns:cust-1\n\n0\n1700000000"),
    "t_v2_wrong_tenant_key": v2("acme-only", "other\np\ns:cust-1\n\n0\n1893456000"),
    "t_v1_subject": v1("acme\ns\ncust-1\nnews\n0\n1893456000"),
    "t_v1_contact": v1(f"acme\nc\nphone\n{HASH}\nnews\n2\n1893456000"),
    "t_tampered": v2("2026-12", "acme\np\ns:cust-1\n\n0\n1893456000")[:-2] + "AA",
    "t_unknown_version": "v9.x.y.z",
    "t_padded": "v2.2026-12.YWNtZQ==.AAAA",
}

for name, token in SEEDS.items():
    with open(os.path.join(OUT, name), "w") as f:
        f.write("t" + token)
