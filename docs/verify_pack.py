"""python3 verify_pack.py PACK.zip KEY: a CertifyClouds evidence pack, checked offline with the
log's verifier key (from a source you trust), Python's standard library and ed25519.py."""
import base64, hashlib, json, sys, zipfile
from decimal import Decimal
from ed25519 import ed25519_ok

H, B64 = lambda b: hashlib.sha256(b).digest(), base64.b64decode
TITLE, FORMAT, MAX = "CertifyClouds evidence pack manifest", "certifyclouds-evidence-pack/1", 1 << 30
MEMBERS = ("id", "timestamp", "event_type", "actor", "resource", "description", "details",
           "severity", "ip_address", "user_agent", "received_at", "ingested_by", "sequence")

def number(x):  # a JSON number as ECMAScript, and so RFC 8785, writes it
    if isinstance(x, int) and abs(x) < 2**53 or x == 0:
        return str(int(x))
    _, digits, exp = Decimal(repr(abs(float(x)))).normalize().as_tuple()
    d, p = "".join(map(str, digits)), len(digits) + exp  # significant digits; digits before the point
    body = (d + "0" * (p - len(d)) if p >= len(d) else d[:p] + "." + d[p:]) if 0 < p <= 21 else (
        "0." + "0" * -p + d if -6 < p <= 0 else d[0] + ("." + d[1:] if d[1:] else "") + f"e{p - 1:+d}")
    return ("-" if x < 0 else "") + body

def jcs(v):  # RFC 8785: keys sorted by UTF-16 code units, no white space
    if isinstance(v, dict):
        return "{" + ",".join(jcs(k) + ":" + jcs(v[k]) for k in sorted(v, key=lambda k: k.encode("utf-16-be"))) + "}"
    if isinstance(v, list):
        return "[" + ",".join(map(jcs, v)) + "]"
    return number(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else json.dumps(v, ensure_ascii=False)

def leaf(entry):  # SHA-256(0x00 || the canonical bytes of the entry's 13 members)
    return H(b"\0" + jcs({k: entry[k] for k in MEMBERS}).encode())

def inclusion(index, size, h, path):  # the root an audit path leads to (RFC 9162, 2.1.3.2)
    fn, sn = index, size - 1
    for p in path:
        if sn == 0: return None  # noqa: E701 (the path is too long)
        if fn & 1 or fn == sn:
            h = H(b"\1" + p + h)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            h = H(b"\1" + h + p)
        fn, sn = fn >> 1, sn >> 1
    return h if index < size and sn == 0 else None

def need(holds):
    if not holds: raise ValueError("does not hold")  # noqa: E701

def parse_key(key):  # <name>+<key id>+<base64 of 0x01 || Ed25519 key>
    name, key_id, raw = key.split("+", 2)
    raw = B64(raw)
    need(raw[:1] == b"\1" and len(raw) == 33 and H(name.encode() + b"\n" + raw)[:4].hex() == key_id)
    return name, key_id, raw[1:]

def signed_text(note, key):  # a C2SP signed note's text, once the key's signature verifies
    name, key_id, raw = parse_key(key)
    text, _, lines = note.partition("\n\n")
    for who, _, sig in (line.removeprefix("\u2014 ").partition(" ") for line in lines.splitlines()):
        if who == name and B64(sig)[:4].hex() == key_id and ed25519_ok(raw, (text + "\n").encode(), B64(sig)[4:]):
            return text + "\n"
    raise ValueError("no valid signature by the key")

def check(path, key):  # yields each step, (file, what fails), before doing it
    yield "the key given", "is not an Ed25519 verifier key"
    name, _, raw = parse_key(key := key.strip())
    yield "the zip", "is not a readable zip, holds a file twice, or over 1 GiB unzipped (a zip bomb)"
    pack = zipfile.ZipFile(path)
    names = [i.filename for i in pack.infolist()]
    need(len(set(names)) == len(names) and sum(i.file_size for i in pack.infolist()) <= MAX)
    text = lambda file: pack.read(file).decode()  # every read checks the file's CRC
    yield "verifier-key.txt", "is not the key given: another key signed this pack"
    need(text("verifier-key.txt").strip() == key)
    yield "manifest.sig", "its signature by the key does not verify"
    signed = signed_text(text("manifest.sig"), key)
    yield "manifest.json", "changed: its SHA-256 is not the one manifest.sig signs"
    m = json.loads(text("manifest.json"))
    need(signed == f"{TITLE}\nsha256 {H(pack.read('manifest.json')).hex()}\n" and m["format"] == FORMAT)
    for file in sorted(set(m["files"]) | set(names) - {"manifest.json", "manifest.sig"}):
        yield file, "damaged, changed, missing or added: the manifest lists another SHA-256"
        need(H(pack.read(file)).hex() == m["files"][file])
    yield "public-key.pem", "is not the key given"
    need(B64("".join(text("public-key.pem").splitlines()[1:-1]))[12:] == raw)
    yield "checkpoint.txt", "is not the checkpoint the manifest names, signed by the key"
    origin, size, root = signed_text(text("checkpoint.txt"), key).split("\n")[:3]
    need((origin, int(size), root) == (name, m["checkpoint"]["size"], m["checkpoint"]["root"]))
    yield "entries.json", "does not hold the entries the manifest counts, each once"
    entries = json.loads(text("entries.json"))
    need(len(entries) == len({e["sequence"] for e in entries}) == m["entries"]["count"])
    for e in entries:
        yield "entries.json", f"entry {e.get('id')}: changed, or its proof does not lead to the root"
        p, own = e["inclusion_proof"], leaf(e)
        path = [B64(h) for h in p["proof"]]
        need(p["leaf_index"] == e["sequence"] - 1 and inclusion(p["leaf_index"], int(size), own, path) == B64(root))
    print(f"Evidence pack intact: {len(entries)} entries, each proven in the signed checkpoint of {size} entries")

if __name__ == "__main__":
    step = ("the command", "takes PACK.zip and KEY")
    try:
        for step in check(*sys.argv[1:]):
            pass
    except Exception as e:  # the step that was running names the file and what fails
        sys.exit(f"FAILED: {step[0]}: {step[1]} ({type(e).__name__} {e})")
