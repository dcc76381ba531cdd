#!/usr/bin/env python3
"""The Merkle tree head of an exported audit log, computed without CertifyClouds.

Usage: python3 tree_root.py export.json
where export.json is `GET /audit/export?format=json` of the whole log (no filters).
Prints "size N, root B64": what `certifyclouds verify --tree-size N` prints for the
first N entries. Standard library only; see docs/integrity.md for what each step means.
"""
import base64
import hashlib
import json
import sys


def number(x):
    """A JSON number as ECMAScript (and so RFC 8785) writes it."""
    if isinstance(x, int):
        if abs(x) < 2**53:
            return str(x)
        x = float(x)  # as JSON numbers are: doubles
    if x == 0:
        return "0"
    sign, r = ("-" if x < 0 else ""), repr(abs(x))
    mantissa, _, exp = r.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + int(exp or 0) - (len(whole + frac) - len((whole + frac).lstrip("0")))
    digits = digits.rstrip("0") or "0"
    if -6 < point <= 21:  # fixed notation
        if point <= 0:
            return sign + "0." + "0" * -point + digits
        if point >= len(digits):
            return sign + digits + "0" * (point - len(digits))
        return sign + digits[:point] + "." + digits[point:]
    e = point - 1
    m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return sign + m + "e" + ("+" if e > 0 else "-") + str(abs(e))


def jcs(v):
    """RFC 8785: keys sorted by UTF-16 code units, no white space, minimal escapes."""
    if v is None or isinstance(v, bool):
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(jcs(i) for i in v) + "]"
    keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v[k]) for k in keys) + "}"


MEMBERS = ("id", "timestamp", "event_type", "actor", "resource", "description", "details",
           "severity", "ip_address", "user_agent", "received_at", "ingested_by", "sequence")


def leaf(entry):
    content = {k: entry[k] for k in MEMBERS}  # a missing member is an error: KeyError
    return hashlib.sha256(b"\x00" + jcs(content).encode("utf-8")).digest()


def root(leaves):
    """RFC 6962's Merkle tree hash: split at the largest power of two below the size."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + root(leaves[:k]) + root(leaves[k:])).digest()


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        entries = sorted(json.load(f), key=lambda e: e["sequence"])
    if [e["sequence"] for e in entries] != list(range(1, len(entries) + 1)):
        sys.exit("not a whole log: the sequence numbers are not 1 to N (a filtered export?)")
    print(f"size {len(entries)}, root {base64.b64encode(root([leaf(e) for e in entries])).decode()}")
