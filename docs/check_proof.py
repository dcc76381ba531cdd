#!/usr/bin/env python3
"""Checks CertifyClouds' signed checkpoints and RFC 6962 proofs without CertifyClouds.

  check_proof.py checkpoint NOTE_FILE VERIFIER_KEY
      the note's Ed25519 signature with the log's key (`verifier_key` of
      GET /audit/integrity/public-key); prints "size N, root B64"
  check_proof.py inclusion PROOF_JSON ENTRY_JSON
      GET /audit/integrity/inclusion's answer against the entry as served: its leaf, and
      the path to the root
  check_proof.py consistency PROOF_JSON
      GET /audit/integrity/consistency's answer: the older tree is a prefix of the newer

Exits 0 when it holds, and non-zero saying what fails. Standard library only (Ed25519
as RFC 8032 section 5.1.7 verifies, written out below); see docs/integrity.md.
"""
import base64
import hashlib
import json
import sys

from tree_root import leaf

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def point(s):
    """A compressed Edwards point, or None when it is not one."""
    y = int.from_bytes(s, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P or (x == 0 and sign):
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def add(a, b):
    e, f = (a[1] - a[0]) * (b[1] - b[0]) % P, (a[1] + a[0]) * (b[1] + b[0]) % P
    g, h = 2 * a[3] * b[3] * D % P, 2 * a[2] * b[2] % P
    e, f, g, h = f - e, h - g, h + g, f + e
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def times(n, a):
    r = (0, 1, 1, 0)
    while n:
        r, a, n = (add(r, a) if n & 1 else r), add(a, a), n >> 1
    return r


def same(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


B = point((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))


def ed25519_ok(public, message, signature):
    a, r, s = point(public), point(signature[:32]), int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L or len(signature) != 64:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % L
    return same(times(s, B), add(r, times(h, a)))


def signed_text(note, verifier_key):
    """The text of a C2SP signed note, once its Ed25519 signature by the key verifies."""
    name, key_id, key = verifier_key.split("+", 2)
    key = base64.b64decode(key)
    if key[0] != 1 or hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() != key_id:
        sys.exit("not an Ed25519 verifier key")
    text, _, signatures = note.partition("\n\n")
    for line in signatures.splitlines():
        who, _, sig = line.removeprefix("\u2014 ").partition(" ")
        sig = base64.b64decode(sig)
        if who == name and sig[:4].hex() == key_id and ed25519_ok(key[1:], (text + "\n").encode(), sig[4:]):
            return text + "\n"
    sys.exit("no valid signature by the log's key")


def checkpoint(note, verifier_key):
    """The (size, root) a C2SP signed checkpoint states, once its signature verifies."""
    origin, size, root = signed_text(note, verifier_key).split("\n")[:3]
    if origin != verifier_key.split("+")[0]:
        sys.exit(f"the checkpoint is of {origin}, not {verifier_key.split('+')[0]}")
    return int(size), root


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion(index, size, leaf_hash, path):
    """The root a path leads to from a leaf (RFC 9162, section 2.1.3.2)."""
    if index >= size:
        sys.exit("the leaf is not in a tree of that size")
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            sys.exit("the path is too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn:
        sys.exit("the path is too short")
    return r


def consistency(first, second, first_root, second_root, path):
    """Whether the tree `first` is a prefix of `second` (RFC 9162, section 2.1.4.2)."""
    if first == 0 or first == second:
        return not path and (first == 0 or first_root == second_root)
    if first > second or not path:
        return False
    if first & (first - 1) == 0:
        path = [first_root] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


def main(kind, *files):
    b64 = base64.b64decode
    if kind == "checkpoint":
        size, root = checkpoint(open(files[0], encoding="utf-8").read(), files[1].strip())
        return print(f"size {size}, root {root}")
    proof = json.load(open(files[0], encoding="utf-8"))
    path = [b64(h) for h in proof["proof"]]
    if kind == "inclusion":
        own = leaf(json.load(open(files[1], encoding="utf-8")))
        if own != b64(proof["leaf_hash"]):
            sys.exit("the entry is not the leaf the proof is for: it was changed")
        if inclusion(proof["leaf_index"], proof["tree_size"], own, path) != b64(proof["root"]):
            sys.exit("the path does not lead to the root")
        return print(f"{proof['id']} is in the tree of {proof['tree_size']} entries, root {proof['root']}")
    if not consistency(proof["from"], proof["to"], b64(proof["from_root"]), b64(proof["to_root"]), path):
        sys.exit("the older tree is not a prefix of the newer")
    print(f"the tree of {proof['from']} entries is a prefix of the tree of {proof['to']}")


if __name__ == "__main__":
    main(*sys.argv[1:])
