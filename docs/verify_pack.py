#!/usr/bin/env python3
"""Checks a CertifyClouds evidence pack offline, with Python 3 alone.

  python3 verify_pack.py PACK.zip [VERIFIER_KEY]

VERIFIER_KEY is the log's key (`verifier_key` of GET /audit/integrity/public-key);
without it the pack's own verifier-key.txt is used, which proves the pack whole but not
whose log it is. Exits 0 when every check holds, else non-zero naming the file that
fails. Uses check_proof.py (Ed25519, proofs) and tree_root.py (leaf hashes), shipped
beside it; docs/integrity.md section 8 says what each step means.
"""
import base64
import hashlib
import json
import sys
import zipfile

from check_proof import checkpoint, inclusion, signed_text
from tree_root import leaf

TITLE = "CertifyClouds evidence pack manifest"


def fail(name, why):
    sys.exit(f"FAILED: {name}: {why}")


def guarded(name, check, *args):
    """check(*args), any failure in it blamed on the file `name`."""
    try:
        return check(*args)
    except SystemExit as e:
        fail(name, e.code)
    except Exception as e:  # malformed content: base64, JSON, UTF-8, a damaged member
        fail(name, f"malformed or damaged ({e})")


def main(path, key=None):
    try:
        pack = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        sys.exit(f"FAILED: not a readable zip: {e}")
    files = {i.filename: guarded(i.filename, pack.read, i) for i in pack.infolist()}  # CRCs

    def text(name):
        if name not in files:
            fail(name, "missing from the pack")
        return guarded(name, files[name].decode, "utf-8")

    pinned = key is not None
    key = (key or text("verifier-key.txt")).strip()
    signed = guarded("manifest.sig", signed_text, text("manifest.sig"), key)
    if not signed.startswith(TITLE + "\nsha256 "):
        fail("manifest.sig", "signs something other than a pack manifest")
    if signed != f"{TITLE}\nsha256 {hashlib.sha256(files.get('manifest.json', b'')).hexdigest()}\n":
        fail("manifest.json", "changed: its SHA-256 is not the one manifest.sig signs")
    manifest = json.loads(text("manifest.json"))
    for name, digest in manifest["files"].items():
        if name not in files:
            fail(name, "missing from the pack")
        if hashlib.sha256(files[name]).hexdigest() != digest:
            fail(name, "changed: its SHA-256 is not the one the manifest lists")
    for name in files:
        if name not in manifest["files"] and name not in ("manifest.json", "manifest.sig"):
            fail(name, "added: the manifest does not list it")

    size, root = guarded("checkpoint.txt", checkpoint, text("checkpoint.txt"), key)
    if (size, root) != (manifest["checkpoint"]["size"], manifest["checkpoint"]["root"]):
        fail("checkpoint.txt", "is not the checkpoint the manifest names")
    entries = guarded("entries.json", json.loads, text("entries.json"))
    for entry in entries:
        p, name = entry["inclusion_proof"], f"entry audit-{entry['sequence']}"
        own = guarded("entries.json", leaf, entry)
        if own != base64.b64decode(p["leaf_hash"]):
            fail("entries.json", f"{name} is not the entry its proof was made for: it was changed")
        if p["leaf_index"] != entry["sequence"] - 1 or p["tree_size"] != size:
            fail("entries.json", f"{name}'s proof is for another leaf or tree")
        path = [base64.b64decode(h) for h in p["proof"]]
        if guarded("entries.json", inclusion, p["leaf_index"], size, own, path) != base64.b64decode(root):
            fail("entries.json", f"{name}'s proof does not lead to the checkpoint's root")
    if len(entries) != manifest["entries"]["count"]:
        fail("entries.json", "does not hold the entries the manifest counts")

    print(f"Evidence pack intact: {len(entries)} entries, each proven in the signed checkpoint "
          f"of {size} entries (root {root}); every file matches the signed manifest.")
    if not pinned:
        print(f"Warning: checked with the pack's own key ({key}): compare it with the log's.")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(*sys.argv[1:])
