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

from verify_pack import leaf  # SHA-256(0x00 || the entry's RFC 8785 bytes), see integrity.md


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
