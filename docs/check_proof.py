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

Exits 0 when it holds, and non-zero saying what fails. Standard library only, with
verify_pack.py's leaf, audit path and signed-note checks and ed25519.py's RFC 8032
verification beside it; see docs/integrity.md.
"""
import base64
import hashlib
import json
import sys

from verify_pack import inclusion, leaf, signed_text


def checkpoint(note, verifier_key):
    """The (size, root) a C2SP signed checkpoint states, once its signature verifies."""
    try:
        origin, size, root = signed_text(note, verifier_key).split("\n")[:3]
    except ValueError as e:
        sys.exit(f"the checkpoint does not verify with that key: {e}")
    if origin != verifier_key.split("+")[0]:
        sys.exit(f"the checkpoint is of {origin}, not {verifier_key.split('+')[0]}")
    return int(size), root


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


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
        if inclusion(proof["leaf_index"], proof["tree_size"], own, path) != b64(proof["root"]):  # None: malformed
            sys.exit("the path does not lead to the root")
        return print(f"{proof['id']} is in the tree of {proof['tree_size']} entries, root {proof['root']}")
    if not consistency(proof["from"], proof["to"], b64(proof["from_root"]), b64(proof["to_root"]), path):
        sys.exit("the older tree is not a prefix of the newer")
    print(f"the tree of {proof['from']} entries is a prefix of the tree of {proof['to']}")


if __name__ == "__main__":
    main(*sys.argv[1:])
