#!/usr/bin/env python3
"""Independent offline verifier for a fascicolo data directory.

Written from Sources/FascicoloLedger/FascicoloLedger.docc/Formats.md ONLY (plus C2SP signed-note,
tlog-checkpoint, tlog-cosignature, RFC 9162 and RFC 8032) -- no project source was read.

    verify-offline.py DATADIR [--key '<name>+<hex id>+<base64>'] [--fast] [--no-self-check]
                              [--no-lock]

Checks, on one read-only LMDB snapshot, what Formats.md lists under "What fascicolo verify
checks": checkpoint notes (note signature and cosignature/v1 timestamp signature), every entry
(position, parse, key ID, Ed25519 signature), stream version continuity, recordedAt
monotonicity, every stored Merkle node (post-order numbering) against the RFC 9162 tree
recomputed from the records, every checkpoint root, the stream index and the streams table.
It then builds RFC 9162 inclusion and consistency proofs from the *stored* nodes and verifies
them against the checkpoint roots.

Output: one line "OK: ..." (exit 0), or "FAILED: position N: ..." / "FAILED: ..." (exit 1).
Exit 2 on usage errors, a bad key, or an unreadable data directory.
Needs: pip install lmdb pynacl
"""
import argparse
import base64
import hashlib
import os
import random
import sys
import time

import lmdb                                       # pip install lmdb pynacl
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

EM_DASH = "\u2014 "
MAGIC = b"FSE1"


class Failure(Exception):
    """A verification failure, naming the position it concerns when one applies."""
    def __init__(self, message, position=None):
        super().__init__(message)
        self.position = position


class UsageError(Exception):
    """Bad arguments or key, or a directory that cannot be read: exit 2."""


# --- hashing, key IDs, the verifier key ------------------------------------------------------

def sha256(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def leaf_hash(record):
    return sha256(b"\x00", record)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


def key_hash(name, sig_type, public_key):
    """C2SP signed-note key hash: SHA-256(name || 0x0A || type || key)[0:4]."""
    return sha256(name.encode(), b"\x0a", bytes([sig_type]), public_key)[:4]


def parse_vkey(vkey):
    """'<name>+<8 hex>+<base64(0x01 || key)>' -> (name, key_id, public_key)."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or not parts[0]:
        raise UsageError("verifier key must be '<name>+<hex key id>+<base64 key>'")
    name, hex_id, b64 = parts
    try:
        blob = base64.b64decode(b64, validate=True)
        key_id = bytes.fromhex(hex_id)
    except ValueError as e:
        raise UsageError(f"verifier key: {e}")
    if len(hex_id) != 8 or hex_id != hex_id.lower() or len(blob) != 33 or blob[0] != 0x01:
        raise UsageError("verifier key: not an Ed25519 signed-note key")
    public_key = blob[1:]
    if key_hash(name, 0x01, public_key) != key_id:
        raise UsageError("verifier key: key ID does not match name and key")
    return name, key_id, public_key


def ed25519_ok(verify_key, message, signature):
    try:
        verify_key.verify(message, signature)
        return True
    except BadSignatureError:
        return False


# --- Merkle node numbering and RFC 9162 proofs ------------------------------------------------

def count(n):
    """Stored nodes in a tree of n leaves: 2n - popcount(n)."""
    return 2 * n - bin(n).count("1")


def node_number(level, index):
    """Post-order number of the node at `level` covering leaves [index*2^l, (index+1)*2^l)."""
    return count(((index + 1) << level) - 1) + level


def largest_pow2_below(n):
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def subtree_hash(get_node, a, b):
    """MTH(D[a:b]) from stored nodes: a perfect, aligned range is one stored node; else a fold."""
    size = b - a
    if size == 0:
        return sha256()
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        assert a % size == 0, "unaligned perfect subtree"
        return get_node(node_number(level, a >> level))
    k = largest_pow2_below(size)
    return node_hash(subtree_hash(get_node, a, a + k), subtree_hash(get_node, a + k, b))


def inclusion_proof(get_node, m, n, a=0):
    """RFC 9162 §2.1.3.1 PATH(m, D[a:a+n])."""
    if n <= 1:
        return []
    k = largest_pow2_below(n)
    if m < k:
        return inclusion_proof(get_node, m, k, a) + [subtree_hash(get_node, a + k, a + n)]
    return inclusion_proof(get_node, m - k, n - k, a + k) + [subtree_hash(get_node, a, a + k)]


def consistency_proof(get_node, m, n, a=0, whole=True):
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[a:a+n], whole); PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
    if a == 0 and whole and (m == 0 or m == n):
        return []
    if m == n:
        return [] if whole else [subtree_hash(get_node, a, a + n)]
    k = largest_pow2_below(n)
    if m <= k:
        return consistency_proof(get_node, m, k, a, whole) + [subtree_hash(get_node, a + k, a + n)]
    return consistency_proof(get_node, m - k, n - k, a + k, False) + [subtree_hash(get_node, a, a + k)]


def verify_inclusion(leaf_index, tree_size, leaf, proof, root):
    """RFC 9162 §2.1.3.2."""
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, proof):
    """RFC 9162 §2.1.4.2; per Formats.md the proof is empty for equal sizes and from size 0."""
    if first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:  # Formats.md: empty; the old root can only be MTH({})
        return not proof and first_root == sha256()
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


# --- records and checkpoints -----------------------------------------------------------------

def parse_record(rec):
    """Split a record into its fields; raise ValueError if it does not parse exactly."""
    if len(rec) < 42 + 64:
        raise ValueError("record too short")
    signed, signature = rec[:-64], rec[-64:]
    if signed[:4] != MAGIC:
        raise ValueError("bad magic")
    f = {"position": int.from_bytes(signed[4:12], "big"),
         "recorded_at": int.from_bytes(signed[12:20], "big", signed=True),
         "version": int.from_bytes(signed[20:28], "big"),
         "key_id": signed[28:32]}
    off = 32
    for name, width in (("stream", 2), ("type", 2), ("author", 2), ("payload", 4)):
        if off + width > len(signed):
            raise ValueError(f"truncated before {name} length")
        size = int.from_bytes(signed[off:off + width], "big")
        off += width
        if off + size > len(signed):
            raise ValueError(f"{name} runs past the record")
        f[name] = signed[off:off + size]
        off += size
    if off != len(signed):
        raise ValueError(f"{len(signed) - off} bytes left over after the payload")
    f["signed"], f["signature"] = signed, signature
    return f


def check_checkpoint(size, note_bytes, origin, key_id, cosig_id, vk):
    """Parse and verify one checkpoint note; return its root hash."""
    where = f"checkpoint {size}: "
    try:
        note = note_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure(where + "not UTF-8")
    text, sep, sigs = note.partition("\n\n")
    lines = text.split("\n")
    if not sep or len(lines) != 3 or not sigs.endswith("\n"):
        raise Failure(where + "not a three-line checkpoint body followed by signatures")
    text += "\n"
    if lines[0] != origin:
        raise Failure(where + f"origin {lines[0]!r} is not {origin!r}")
    if not lines[1].isdigit() or not lines[1].isascii() or str(int(lines[1])) != lines[1]:
        raise Failure(where + f"bad tree size {lines[1]!r}")
    if int(lines[1]) != size:
        raise Failure(where + f"stored under size {size} but says {lines[1]}")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        root = b""
    if len(root) != 32:
        raise Failure(where + "root hash is not base64 of 32 bytes")
    note_sig = cosig = 0
    for line in sigs[:-1].split("\n"):
        if not line.startswith(EM_DASH) or len(line[2:].split(" ")) != 2:
            raise Failure(where + f"malformed signature line {line!r}")
        name, b64 = line[2:].split(" ")
        try:
            blob = base64.b64decode(b64, validate=True)
        except ValueError:
            raise Failure(where + "signature line is not base64")
        if name != origin or len(blob) < 4:
            continue  # a witness or other key: not ours to check (C2SP signed-note)
        if blob[:4] == key_id:
            if len(blob) != 68 or not ed25519_ok(vk, text.encode(), blob[4:]):
                raise Failure(where + "note signature does not verify")
            note_sig += 1
        elif blob[:4] == cosig_id:
            ts = int.from_bytes(blob[4:12], "big")
            msg = b"cosignature/v1\ntime " + str(ts).encode() + b"\n" + text.encode()
            if len(blob) != 76 or not ed25519_ok(vk, msg, blob[12:]):
                raise Failure(where + "cosignature/v1 timestamp signature does not verify")
            cosig += 1
    if note_sig != 1 or cosig != 1:
        raise Failure(where + f"expected one note signature and one cosignature by the log key, "
                              f"found {note_sig} and {cosig}")
    return root


# --- the verifier ----------------------------------------------------------------------------

def u64(b):
    return int.from_bytes(b, "big")


def be8(n):
    return n.to_bytes(8, "big")


def verify(env, vkey, fast, self_check):
    name, key_id, public_key = vkey
    cosig_id = key_hash(name, 0x04, public_key)
    vk = VerifyKey(public_key)
    with env.begin(buffers=False) as txn:  # one snapshot for everything
        dbs = {}
        for table in ("meta", "entries", "merkle", "streams", "stream_index", "checkpoints"):
            try:
                dbs[table] = env.open_db(table.encode(), txn=txn, create=False)
            except lmdb.NotFoundError:
                raise Failure(f"table {table!r} is missing")
        if txn.get(b"format", db=dbs["meta"]) != b"1":
            raise UsageError(f"data directory format {txn.get(b'format', db=dbs['meta'])!r} "
                             "is not the supported b'1'")
        origin = (txn.get(b"origin", db=dbs["meta"]) or b"").decode("utf-8", "replace")
        if origin != name:
            raise Failure(f"origin {origin!r} is not the verifier key's name {name!r}")

        # Step 1: checkpoints.
        roots = {}
        for k, note in txn.cursor(db=dbs["checkpoints"]):
            if len(k) != 8:
                raise Failure(f"checkpoint key {k.hex()} is not 8 bytes")
            size = u64(k)
            if size == 0:
                raise Failure("a checkpoint of size 0 (checkpoints are signed for sizes of 1 and more)")
            try:
                roots[size] = check_checkpoint(size, note, origin, key_id, cosig_id, vk)
            except Failure as f:  # a checkpoint concerns the last position it covers
                raise Failure(str(f), size - 1)

        # Steps 2-4, entry by entry, in position order.
        merkle = txn.cursor(db=dbs["merkle"])
        stack = []                      # (level, hash) of the perfect subtrees, left to right
        last_version = {}               # stream -> its last version so far
        prev_time = None
        index_keys = []                 # per position: its expected stream_index key
        n = 0
        for k, rec in txn.cursor(db=dbs["entries"]):
            p = n
            if k != be8(p):
                raise Failure(f"entry key {k.hex()} is not the next position", p)
            try:
                e = parse_record(rec)
            except ValueError as err:
                raise Failure(f"record does not parse: {err}", p)
            if e["position"] != p:
                raise Failure(f"record says position {e['position']}", p)
            if e["key_id"] != key_id:
                raise Failure(f"key ID {e['key_id'].hex()} is not the log's {key_id.hex()}", p)
            if not fast and not ed25519_ok(vk, e["signed"], e["signature"]):
                raise Failure("entry signature does not verify", p)
            expected = last_version.get(e["stream"], 0) + 1
            if e["version"] != expected:
                raise Failure(f"stream {e['stream']!r} version {e['version']}, expected {expected}", p)
            last_version[e["stream"]] = e["version"]
            if prev_time is not None and e["recorded_at"] < prev_time:
                raise Failure(f"recordedAt {e['recorded_at']} < previous {prev_time}", p)
            prev_time = e["recorded_at"]
            index_keys.append(e["stream"] + b"\x00" + be8(e["version"]))
            # Merkle: appending leaf p completes the leaf and one node per trailing 1 bit of p.
            h, level = leaf_hash(rec), 0
            while True:
                num = count(p) + level
                if not merkle.set_key(be8(num)):
                    raise Failure(f"Merkle node {num} (level {level}) is missing", p)
                if merkle.value() != h:
                    raise Failure(f"Merkle node {num} (level {level}) differs from recomputed", p)
                if not stack or stack[-1][0] != level:
                    break
                h, level = node_hash(stack.pop()[1], h), level + 1
            stack.append((level, h))
            n = p + 1
            if n in roots:
                root = stack[-1][1]
                for _, left in reversed(stack[:-1]):
                    root = node_hash(left, root)
                if root != roots[n]:
                    raise Failure(f"checkpoint {n}: root differs from recomputed tree", n - 1)

        stored_nodes = txn.stat(dbs["merkle"])["entries"]
        if stored_nodes != count(n):  # nodes 0 .. count(n)-1 were all found above
            raise Failure(f"merkle table has {stored_nodes} nodes; {n} entries need {count(n)}")
        beyond = [s for s in roots if s > n]
        if beyond:
            raise Failure(f"checkpoint {min(beyond)} is beyond the {n} stored entries",
                          min(beyond) - 1)

        # Step 5: stream index and streams table.
        for p, key in enumerate(index_keys):
            ix = txn.get(key, db=dbs["stream_index"])
            if ix != be8(p):
                raise Failure(f"stream index row {key!r} is {ix.hex() if ix else 'missing'}", p)
        rows = txn.stat(dbs["stream_index"])["entries"]
        if rows != n:  # every entry's row was found, so the others point at no entry
            raise Failure(f"stream index has {rows} rows for {n} entries")
        table = dict(txn.cursor(db=dbs["streams"]))
        for stream in sorted(set(table) | set(last_version)):
            want = be8(last_version[stream]) if stream in last_version else None
            if table.get(stream) != want:
                raise Failure(f"streams table row for {stream!r} is "
                              f"{table[stream].hex() if stream in table else 'missing'}, "
                              f"expected {want.hex() if want else 'none'}")

        checked = self_check_proofs(txn, dbs, roots) if self_check else 0
    return n, len(last_version), len(roots), checked


def self_check_proofs(txn, dbs, roots):
    """Build inclusion and consistency proofs from STORED nodes and verify them (RFC 9162)."""
    def get_node(num):
        v = txn.get(be8(num), db=dbs["merkle"])
        if v is None:
            raise Failure(f"self-check: node {num} missing")
        return v

    def leaf_of(p):
        return leaf_hash(txn.get(be8(p), db=dbs["entries"]))

    rng = random.Random(9162)  # deterministic: the first, the last and up to 6 other sizes
    sizes = sorted(roots)
    sizes = sorted({0, *sizes[:1], *sizes[-1:], *rng.sample(sizes, min(6, len(sizes)))})
    roots = {**roots, 0: sha256()}  # MTH({}); a stored checkpoint 0 was checked to equal it
    checked = 0
    for size in sizes[1:]:
        for p in sorted({0, size - 1, size // 2} | {rng.randrange(size) for _ in range(3)}):
            proof = inclusion_proof(get_node, p, size)
            if not verify_inclusion(p, size, leaf_of(p), proof, roots[size]):
                raise Failure(f"self-check: inclusion proof for checkpoint {size} fails", p)
            if proof and verify_inclusion(p, size, leaf_of(p), proof[:-1] + [bytes(32)], roots[size]):
                raise Failure(f"self-check: a corrupted inclusion proof verified ({size})", p)
            checked += 1
    pairs = [(s, s) for s in sizes] + list(zip(sizes, sizes[1:]))
    if len(sizes) > 2:
        pairs.append((sizes[1], sizes[-1]))
    for first, second in pairs:
        proof = consistency_proof(get_node, first, second)
        if not verify_consistency(first, second, roots[first], roots[second], proof):
            raise Failure(f"self-check: consistency proof {first} -> {second} fails")
        if proof and verify_consistency(first, second, roots[first], roots[second],
                                        [bytes(32)] + proof[1:]):
            raise Failure(f"self-check: corrupted consistency proof {first} -> {second} verified")
        checked += 1
    return checked


def open_env(datadir, no_lock):
    if not os.path.isfile(os.path.join(datadir, "data.mdb")):
        raise UsageError(f"{datadir}: no data.mdb (not a data directory?)")
    if not no_lock:
        try:  # registers us as a reader in lock.mdb, so a running writer keeps our snapshot
            return lmdb.open(datadir, readonly=True, lock=True, max_dbs=16, subdir=True), "locked"
        except lmdb.Error as e:
            print(f"warning: cannot use lock.mdb ({e}); reading lock-free, which gives false "
                  "failures if a writer is running", file=sys.stderr)
    try:  # lock-free: fine for a quiescent copy or read-only media, not beside a live writer
        return lmdb.open(datadir, readonly=True, lock=False, max_dbs=16, subdir=True), "lock-free"
    except lmdb.Error as e:
        raise UsageError(f"{datadir}: cannot open LMDB environment: {e}")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Verify a fascicolo data directory offline "
                                             "(written from Formats.md only).")
    ap.add_argument("datadir")
    ap.add_argument("--key", help="verifier key '<name>+<hex id>+<base64>' "
                                  "(default: DATADIR/signing.pub; better: obtain it out of band)")
    ap.add_argument("--fast", action="store_true", help="skip entry signatures")
    ap.add_argument("--no-self-check", action="store_true", help="skip the proof self-check")
    ap.add_argument("--no-lock", action="store_true",
                    help="do not use lock.mdb (read-only media; unsafe while a writer runs)")
    args = ap.parse_args(argv)
    try:
        if not os.path.isdir(args.datadir):
            raise UsageError(f"{args.datadir}: not a directory")
        key = args.key
        if key is None:
            try:
                with open(os.path.join(args.datadir, "signing.pub"), encoding="utf-8") as f:
                    key = f.read()
            except OSError as e:
                raise UsageError(f"cannot read signing.pub: {e}")
        vkey = parse_vkey(key)
        env, mode = open_env(args.datadir, args.no_lock)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    start = time.monotonic()
    try:
        with env:
            n, streams, checkpoints, proofs = verify(env, vkey, args.fast, not args.no_self_check)
    except Failure as f:
        where = f"position {f.position}: " if f.position is not None else ""
        print(f"FAILED: {where}{f}")
        return 1
    except (lmdb.Error, UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    secs = time.monotonic() - start
    print(f"OK: {n} entries, {streams} streams, {checkpoints} checkpoints verified "
          f"({'fast' if args.fast else 'full'}, {mode}), {proofs} proofs self-checked, "
          f"in {secs:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
