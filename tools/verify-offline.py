#!/usr/bin/env python3
"""Independent offline verifier for a fascicolo data directory.

Written from Sources/FascicoloLedger/FascicoloLedger.docc/Formats.md ONLY (plus C2SP signed-note,
tlog-checkpoint, tlog-cosignature, RFC 9162 and RFC 8032, and LMDB 0.9's mdb.c for the page layout
read before liblmdb opens the file) -- no project source was read.

    verify-offline.py DATADIR [--key '<name>+<hex id>+<base64>'] [--fast] [--no-self-check]
                              [--no-lock]

Checks, on one read-only LMDB snapshot, what Formats.md lists under "What fascicolo verify
checks": the key chain (the KeyRotated entries of ledger:keys, "Key rotation" steps 1-3, with
each entry and checkpoint checked with the key current at its position or size), checkpoint notes (note signature and cosignature/v1 timestamp signature), every entry
(position, parse, key ID, Ed25519 signature), stream version continuity, recordedAt
monotonicity, every stored Merkle node (post-order numbering) against the RFC 9162 tree
recomputed from the records, every checkpoint root and stream-heads line (the stream-head map
recomputed from the entries), the stream_heads table, the stream index and the streams table.
It then builds RFC 9162 inclusion and consistency proofs from the *stored* nodes and verifies
them against the checkpoint roots.

Output: one line "OK: ..." (exit 0), or "FAILED: position N: ..." / "FAILED: ..." (exit 1).
Exit 2 on usage errors, a bad key, or an unreadable data directory.

A damaged data.mdb is also exit 1, never a crash: LMDB's meta pages are checked with plain reads
before liblmdb maps the file ("FAILED: the file is truncated: ..." / "FAILED: the store's
structure is damaged near page P: ..."), and the verification runs in a child process, so that
if liblmdb dies on a damaged page (SIGSEGV, SIGBUS, an assertion's SIGABRT) this process reports
it with the last position verified ("FAILED: the store's structure is damaged (...) after
position N").
Needs: pip install lmdb pynacl
"""
import argparse
import base64
import bisect
import collections
import hashlib
import hmac
import mmap
import os
import random
import re
import signal
import struct
import sys
import tempfile
import time

import lmdb                                       # pip install lmdb pynacl
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

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


def vkey_text(name, public_key):
    """The signed-note vkey of an Ed25519 key: '<name>+<hex key id>+<base64(0x01 || key)>'."""
    encoded = base64.b64encode(bytes([0x01]) + public_key).decode()
    return f"{name}+{key_hash(name, 0x01, public_key).hex()}+{encoded}"


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


STREAM_HEADS_LABEL = "fascicolo/stream-heads/v1"
NEXT_KEY_LABEL = "fascicolo/next-key/v1"
KEYS_STREAM = b"ledger:keys"
ROTATION_TYPE = b"KeyRotated"
ROTATION_PAYLOAD = re.compile(rb'\{"previousKey":"([A-Za-z0-9+/=]*)","newKey":"([A-Za-z0-9+/=]*)","proof":"([A-Za-z0-9+/=]*)"\}\Z')


def canonical_b64(text, length):
    """Bytes of canonical standard base64 `text` (bytes) of `length` bytes, else None."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return raw if len(raw) == length and base64.b64encode(raw) == text else None


class KeyChain:
    """The log's keys in order (Formats.md, "Key rotation"): keys[0] is the first key, keys[i]
    is named by the rotation at positions[i - 1]. The entry at p is signed by keys[i], i the
    number of rotations at positions strictly below p; a checkpoint of size n by the key of
    entry n - 1."""
    def __init__(self, origin, keys, positions):
        self.origin, self.keys, self.positions = origin, keys, positions
        self.key_ids = [key_hash(origin, 0x01, k) for k in keys]
        self.cosig_ids = [key_hash(origin, 0x04, k) for k in keys]
        self.verify_keys = [VerifyKey(k) for k in keys]

    def index_for_entry(self, p):
        return bisect.bisect_left(self.positions, p)

    def for_checkpoint(self, size):
        """(key ID, cosignature key ID, VerifyKey, next key or None) of the checkpoint of `size`."""
        i = self.index_for_entry(size - 1)
        rotation = bisect.bisect_left(self.positions, size - 1)
        next_key = self.keys[rotation + 1] if rotation < len(self.positions) and self.positions[rotation] == size - 1 else None
        return self.key_ids[i], self.cosig_ids[i], self.verify_keys[i], next_key


def load_key_chain(txn, dbs, origin, given):
    """Step 1 of "Key rotation": the entries of ledger:keys in order, each a valid rotation from
    the key current before it, signed by it. Without rotations the chain is the given key."""
    row = txn.get(KEYS_STREAM, db=dbs["streams"])
    rotations = u64(row) if row is not None and len(row) == 8 else 0
    if rotations == 0:
        return KeyChain(origin, [given], [])
    keys, positions = [], []
    for version in range(1, rotations + 1):
        at = txn.get(KEYS_STREAM + b"\x00" + be8(version), db=dbs["stream_index"])
        rec = txn.get(at, db=dbs["entries"]) if at is not None and len(at) == 8 else None
        if rec is None:
            raise Failure(f"key rotation {version} of {KEYS_STREAM.decode()} is missing from the stream index or the log")
        p = u64(at)
        try:
            e = parse_record(rec)
        except ValueError as err:
            raise Failure(f"record does not parse: {err}", p)
        if e["stream"] != KEYS_STREAM or e["version"] != version or e["position"] != p:
            raise Failure(f"the stream index's key rotation {version} is not this entry", p)
        if e["type"] != ROTATION_TYPE:
            raise Failure(f"an entry of {KEYS_STREAM.decode()} is not a KeyRotated entry", p)
        m = ROTATION_PAYLOAD.match(e["payload"])
        previous, new, proof = (canonical_b64(m.group(i), n) for i, n in ((1, 32), (2, 32), (3, 64))) if m else (None,) * 3
        if previous is None or new is None or proof is None:
            raise Failure("the key rotation's payload is not exactly "
                          '{"previousKey":...,"newKey":...,"proof":...} of canonical base64 keys and proof', p)
        if not keys:
            keys.append(previous)  # the first key, trusted only if it (or a later one) is given
        current = keys[-1]
        if previous != current:
            raise Failure("the key rotation does not replace the key current before it", p)
        if new == current:
            raise Failure("the key rotation names the key it replaces", p)
        message = (b"fascicolo/key-rotation/v1\n" + origin.encode() + b"\n" + str(p).encode() + b"\n"
                   + previous + new)
        if not ed25519_ok(VerifyKey(new), message, proof):
            raise Failure("the key rotation's proof does not verify with the new key", p)
        if e["key_id"] != key_hash(origin, 0x01, current) or not ed25519_ok(VerifyKey(current), e["signed"], e["signature"]):
            raise Failure("the key rotation is not signed by the key it replaces", p)
        keys.append(new)
        positions.append(p)
    if given not in keys:
        raise Failure("the key given is none of the keys the log's rotations name")
    return KeyChain(origin, keys, positions)


def map_root(heads):
    """The stream-head map's root (Formats.md, "The stream-head map") of {stream: (version, position)}."""
    leaves = sorted((sha256(stream), version, position) for stream, (version, position) in heads.items())

    def bit(key, i):
        return (key[i // 8] >> (7 - i % 8)) & 1

    def subtree(items, depth):
        if not items:
            return bytes(32)
        if len(items) == 1:
            key, version, position = items[0]
            return sha256(b"\x02", key, be8(version), be8(position))
        split = next((i for i, item in enumerate(items) if bit(item[0], depth)), len(items))
        return sha256(b"\x03", subtree(items[:split], depth + 1), subtree(items[split:], depth + 1))

    return subtree(leaves, 0)


def check_checkpoint(size, note_bytes, origin, chain):
    """Parse and verify one checkpoint note with the key of its size (and its next-key line
    against the chain); return its root hash and its stream-heads root (or None)."""
    where = f"checkpoint {size}: "
    try:
        note = note_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure(where + "not UTF-8")
    text, sep, sigs = note.partition("\n\n")
    lines = text.split("\n")
    if not sep or len(lines) not in (3, 4, 5) or not sigs.endswith("\n"):
        raise Failure(where + "not a three-, four- or five-line checkpoint body followed by signatures")
    key_id, cosig_id, vk, next_key = chain.for_checkpoint(size)
    if next_key is not None and (len(lines) != 5 or lines[4] != f"{NEXT_KEY_LABEL} {vkey_text(origin, next_key)}"):
        raise Failure(where + f"its last entry is a key rotation, and it does not end with the next-key line "
                              f"naming the rotation's new key")
    if next_key is None and len(lines) == 5:
        raise Failure(where + "it has a fifth line, but only a checkpoint whose last entry is a key rotation "
                              "has one (the next-key line)")
    heads_root = None
    if len(lines) >= 4:
        label, _, encoded = lines[3].partition(" ")
        try:
            heads_root = base64.b64decode(encoded, validate=True)
        except ValueError:
            heads_root = b""
        if label != STREAM_HEADS_LABEL or len(heads_root) != 32 or base64.b64encode(heads_root).decode() != encoded:
            raise Failure(where + "the fourth line is not a stream-heads line")
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
    return root, heads_root


# --- the verifier ----------------------------------------------------------------------------

def u64(b):
    return int.from_bytes(b, "big")


def be8(n):
    return n.to_bytes(8, "big")


def read_checkpoints_log(datadir):
    """The notes of checkpoints.log (Formats.md): records of decimal length, LF, note. A record
    cut short can only be the last (a crash mid-append) and is ignored."""
    try:
        with open(os.path.join(datadir, "checkpoints.log"), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    notes, i = [], 0
    while i < len(data):
        nl = data.find(b"\n", i, i + 12)
        if nl < 0 or not data[i:nl].isdigit():
            break
        size = int(data[i:nl])
        if size == 0 or nl + 1 + size > len(data):
            break
        notes.append(data[nl + 1:nl + 1 + size])
        i = nl + 1 + size
    return notes


META_ROWS = {b"format", b"origin", b"idempotency_seal", b"pseudonym_key_check", b"records_key_check",
             b"records_key_generation", b"records_key_rotation_due"}


def check_side_tables(txn, env, datadir, n, public_key):
    """Formats.md, "Sealed side tables": meta holds only its rows; every idempotency row names
    entries of the log; with signing.key at hand, every row's MAC and the sealed aggregate."""
    for k, _ in txn.cursor(db=env.open_db(b"meta", txn=txn, create=False)):
        if k not in META_ROWS:
            raise Failure("the meta table has a row that is not in the format")
    try:
        idem = env.open_db(b"idempotency", txn=txn, create=False)
    except lmdb.NotFoundError:
        return 0, False
    seal_key = None
    try:
        with open(os.path.join(datadir, "signing.key"), "rb") as f:
            seed = f.read()
        signer = SigningKey(seed)
        if bytes(signer.verify_key) == public_key:
            seal_key = hashlib.sha256(signer.sign(b"fascicolo/table-seal-key/v1").signature).digest()
    except (OSError, ValueError, TypeError):
        pass

    def mac(table, key, value):
        msg = table + b"\x00" + len(key).to_bytes(4, "big") + key + value
        return hmac.new(seal_key, msg, hashlib.sha256).digest()[:16]

    entries = env.open_db(b"entries", txn=txn, create=False)
    sealed_row = txn.get(b"idempotency_seal", db=env.open_db(b"meta", txn=txn, create=False))
    total, rows = 0, 0
    for key, value in txn.cursor(db=idem):
        if len(value) not in (68, 52) or (len(value) == 52 and sealed_row is not None):
            raise Failure("an idempotency row has the wrong length")
        first, version, cnt = u64(value[32:40]), u64(value[40:48]), int.from_bytes(value[48:52], "big")
        if seal_key is not None:
            if len(value) != 68 or not hmac.compare_digest(value[52:], mac(b"idempotency", key, value[:52])):
                raise Failure("an idempotency row's MAC does not match (a changed or renamed row)")
            total = (total + int.from_bytes(value[52:], "big")) % (1 << 128)
        rows += 1
        if cnt < 1 or first + cnt > n:
            raise Failure(f"an idempotency row points beyond the log's {n} entries")
        seen = None
        for off in range(cnt):
            rec = txn.get(be8(first + off), db=entries)
            e = parse_record(rec) if rec is not None else None
            this = e and (e["stream"], e["author"], e["recorded_at"])
            if e is None or e["version"] != version + off or (seen is not None and this != seen):
                raise Failure(f"an idempotency row does not match the {cnt} entries it names", first)
            seen = this
    if seal_key is not None and (rows or sealed_row is not None):
        if sealed_row is None or len(sealed_row) != 40:
            raise Failure("the idempotency_seal row is missing or has the wrong length")
        if not hmac.compare_digest(sealed_row[24:], mac(b"idempotency_seal", b"idempotency_seal", sealed_row[:24])):
            raise Failure("the idempotency_seal row's MAC does not match")
        if int.from_bytes(sealed_row[:16], "big") != total or u64(sealed_row[16:24]) != rows:
            raise Failure("the idempotency rows are not the ones sealed (rows dropped, added or replaced)")
    return rows, seal_key is not None


def verify(env, vkey, fast, self_check, progress, datadir=None, kept_notes=()):
    name, _, given_key = vkey
    progress.step("opening the tables")
    with env.begin(buffers=False) as txn:  # one snapshot for everything
        dbs = {}
        for table in ("meta", "entries", "merkle", "streams", "stream_index", "checkpoints"):
            try:
                dbs[table] = env.open_db(table.encode(), txn=txn, create=False)
            except lmdb.NotFoundError:
                raise Failure(f"table {table!r} is missing")
        if txn.get(b"format", db=dbs["meta"]) is None:
            raise Failure("the meta table's format row is missing (damaged)")
        if txn.get(b"format", db=dbs["meta"]) != b"1":
            raise UsageError(f"data directory format {txn.get(b'format', db=dbs['meta'])!r} "
                             "is not the supported b'1'")
        origin = (txn.get(b"origin", db=dbs["meta"]) or b"").decode("utf-8", "replace")
        if origin != name:
            raise Failure(f"origin {origin!r} is not the verifier key's name {name!r}")

        # Step 0: the key chain (Formats.md, "Key rotation").
        progress.step("following the key chain")
        chain = load_key_chain(txn, dbs, origin, given_key)
        public_key = chain.keys[-1]  # signing.key, when present, is the current key

        # Step 1: checkpoints.
        progress.step("checking the checkpoints")
        roots = {}
        heads_roots = {}
        for k, note in txn.cursor(db=dbs["checkpoints"]):
            if len(k) != 8:
                raise Failure(f"checkpoint key {k.hex()} is not 8 bytes")
            size = u64(k)
            if size == 0:
                raise Failure("a checkpoint of size 0 (checkpoints are signed for sizes of 1 and more)")
            try:
                roots[size], heads_roots[size] = check_checkpoint(size, note, origin, chain)
            except Failure as f:  # a checkpoint concerns the last position it covers
                raise Failure(str(f), size - 1)
        # The notes the daemon kept in checkpoints.log: each verifies, is in the table, and the
        # log must reach its size with its root (Formats.md, "checkpoints.log").
        for note in kept_notes:
            lines = note.split(b"\n")
            size = int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else 0
            if size == 0:
                raise Failure("checkpoints.log holds a note without a tree size")
            try:
                root, _ = check_checkpoint(size, note, origin, chain)
            except Failure as f:
                raise Failure(str(f), size - 1)
            if txn.get(be8(size), db=dbs["checkpoints"]) != note:
                raise Failure(f"checkpoints.log holds checkpoint {size}, which the checkpoints table lacks",
                              size - 1 if size else None)
            roots[size] = root
        # "Key rotation", step 3: each rotation's checkpoint is stored; a key given that is not
        # the first vouches for the log before it only through a checkpoint it signed beyond the
        # rotation that named it (Formats.md, "What fascicolo verify checks", step 0).
        for p in chain.positions:
            if p + 1 not in roots:
                raise Failure(f"the checkpoint of the key rotation at position {p} (size {p + 1}) is not stored", p)
        given_index = chain.keys.index(given_key)
        if given_index > 0:
            since = chain.positions[given_index - 1] + 1
            if not any(s > since and chain.for_checkpoint(s)[0] == chain.key_ids[given_index] for s in roots):
                raise Failure("the key given is a later key of the chain, and no stored checkpoint beyond "
                              "its rotation is signed by it")

        # Steps 2-4, entry by entry, in position order.
        progress.step("checking the entries")
        merkle = txn.cursor(db=dbs["merkle"])
        stack = []                      # (level, hash) of the perfect subtrees, left to right
        last_version = {}               # stream -> its last version so far
        heads = {}                      # stream -> (version, position) of its last entry so far
        first_with_heads = None         # the first checkpoint size with a stream-heads line
        latest_stored = max(heads_roots) if heads_roots else 0
        heads_at_latest = {}
        prev_time = None
        index_keys = []                 # per position: its expected stream_index key
        n = 0
        rotations_at = set(chain.positions)
        key_index = 0                   # the index in the chain of the key current at p
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
            while key_index < len(chain.positions) and chain.positions[key_index] < p:
                key_index += 1
            if e["key_id"] != chain.key_ids[key_index]:
                raise Failure(f"key ID {e['key_id'].hex()} is not that of the key current at its position "
                              f"({chain.key_ids[key_index].hex()}, key {key_index} of the chain)", p)
            if not fast and not ed25519_ok(chain.verify_keys[key_index], e["signed"], e["signature"]):
                raise Failure("entry signature does not verify", p)
            if (e["stream"] == KEYS_STREAM) != (p in rotations_at):
                raise Failure(f"an entry of {KEYS_STREAM.decode()} that is not one of the chain's rotations", p)
            expected = last_version.get(e["stream"], 0) + 1
            if e["version"] != expected:
                raise Failure(f"stream {e['stream']!r} version {e['version']}, expected {expected}", p)
            last_version[e["stream"]] = e["version"]
            heads[e["stream"]] = (e["version"], p)
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
            if n in heads_roots:
                if heads_roots[n] is None:
                    if first_with_heads is not None:
                        raise Failure(f"checkpoint {n} has no stream-heads line, though checkpoint "
                                      f"{first_with_heads} had one", n - 1)
                else:
                    first_with_heads = first_with_heads or n
                    if map_root(heads) != heads_roots[n]:
                        raise Failure(f"checkpoint {n}: stream heads differ from the entries'", n - 1)
                if n == latest_stored:
                    heads_at_latest = dict(heads) if heads_roots[n] is not None else {}
            progress.verified(p)

        stored_nodes = txn.stat(dbs["merkle"])["entries"]
        if stored_nodes != count(n):  # nodes 0 .. count(n)-1 were all found above
            raise Failure(f"merkle table has {stored_nodes} nodes; {n} entries need {count(n)}")
        beyond = [s for s in roots if s > n]
        if beyond:
            raise Failure(f"checkpoint {min(beyond)} is beyond the {n} stored entries",
                          min(beyond) - 1)

        # Step 5: stream index and streams table.
        progress.step("checking the stream index")
        for p, key in enumerate(index_keys):
            ix = txn.get(key, db=dbs["stream_index"])
            if ix != be8(p):
                raise Failure(f"stream index row {key!r} is {ix.hex() if ix else 'missing'}", p)
        rows = txn.stat(dbs["stream_index"])["entries"]
        if rows != n:  # every entry's row was found, so the others point at no entry
            raise Failure(f"stream index has {rows} rows for {n} entries")
        progress.step("checking the streams table")
        table = dict(txn.cursor(db=dbs["streams"]))
        for stream in sorted(set(table) | set(last_version)):
            want = be8(last_version[stream]) if stream in last_version else None
            if table.get(stream) != want:
                raise Failure(f"streams table row for {stream!r} is "
                              f"{table[stream].hex() if stream in table else 'missing'}, "
                              f"expected {want.hex() if want else 'none'}")

        # The stream_heads table: the map at the newest checkpoint, key SHA-256(stream) ->
        # version (8) || position (8) || stream (Formats.md, "The stream-head map").
        progress.step("checking the stream_heads table")
        try:
            heads_db = env.open_db(b"stream_heads", txn=txn, create=False)
            stored_heads = dict(txn.cursor(db=heads_db))
        except lmdb.NotFoundError:
            stored_heads = {}
        want_heads = {sha256(stream): be8(v) + be8(p) + stream for stream, (v, p) in heads_at_latest.items()}
        if stored_heads != want_heads:
            raise Failure("the stream_heads table is not the map at the newest checkpoint")

        progress.step("checking the side tables")
        side = check_side_tables(txn, env, datadir, n, public_key) if datadir else (0, False)

        progress.step("self-checking proofs")
        checked = self_check_proofs(txn, dbs, roots) if self_check else 0
    return n, len(last_version), len(roots), checked, side


def self_check_proofs(txn, dbs, roots):
    """Build inclusion and consistency proofs from STORED nodes and verify them (RFC 9162)."""
    def get_node(num):
        v = txn.get(be8(num), db=dbs["merkle"])
        if v is None:
            raise Failure(f"self-check: node {num} missing")
        return v

    def leaf_of(p):
        v = txn.get(be8(p), db=dbs["entries"])
        if v is None:  # the scan above found it: a damaged B-tree can lose a key to lookups only
            raise Failure(f"self-check: entry {p} missing", p)
        return leaf_hash(v)

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


# --- LMDB's meta pages and free list, read without liblmdb ------------------------------------
#
# liblmdb maps data.mdb into memory and trusts what it finds there: a page past the end of a
# truncated file is a SIGBUS, and a damaged B-tree page can trip an assertion or send a pointer
# astray. So before liblmdb sees the file, its two meta pages are read here with plain reads and
# checked as mdb_env_read_header (LMDB 0.9, mdb.c) checks them, and the file's length is compared
# with what the newest meta page says the file holds.
#
# LMDB 0.9.x on a 64-bit host (data version 1, the host's byte order), from LMDB 0.9's mdb.c and
# checked against data.mdb files written by this project's ledger:
#   every page starts with a 16-byte header: mp_pgno u64, mp_pad u16, mp_flags u16 (P_BRANCH 0x01,
#     P_LEAF 0x02, P_META 0x08), mp_lower u16, mp_upper u16;
#   page 0 (offset 0) and page 1 (offset = page size) are the meta pages: after the header,
#     mm_magic u32 = 0xBEEFC0DE, mm_version u32 = 1, mm_address u64, mm_mapsize u64,
#     mm_dbs[2] (0: the free-page DB, 1: the main DB), 48 bytes each: md_pad u32 (in the free-page
#       DB's: the page size), md_flags u16, md_depth u16, md_branch_pages u64, md_leaf_pages u64,
#       md_overflow_pages u64, md_entries u64, md_root u64 (P_INVALID = 2**64-1 when empty),
#     mm_last_pg u64, mm_txnid u64;
#   in a branch or leaf page, u16 node offsets follow the header up to mp_lower; a node is a
#     u32 (mn_lo, mn_hi: the data size, or in a branch page the child page's bits 0-31),
#     mn_flags u16 (F_BIGDATA 0x01: the data is on overflow pages; in a branch page: the child
#     page's bits 32-47), mn_ksize u16, the key, then the data.
# 32-bit builds and files from a host of the other byte order have other layouts: LMDB rejects
# them too (the magic does not match).

MDB_MAGIC, MDB_DATA_VERSION = 0xBEEFC0DE, 1
P_BRANCH, P_LEAF, P_META, F_BIGDATA = 0x01, 0x02, 0x08, 0x01
PAGE_HEADER = 16
NUM_METAS = 2
P_INVALID = 2**64 - 1
META_PAGE = struct.Struct("=QHHHH" "IIQQ" + "IHHQQQQQ" * 2 + "QQ")  # header + MDB_meta, 152 bytes
MetaPage = collections.namedtuple("MetaPage", (
    "mp_pgno mp_pad mp_flags mp_lower mp_upper mm_magic mm_version mm_address mm_mapsize "
    "free_psize free_flags free_depth free_branch free_leaf free_overflow free_entries free_root "
    "main_pad main_flags main_depth main_branch main_leaf main_overflow main_entries main_root "
    "mm_last_pg mm_txnid"))


def damaged(page, what):
    return Failure(f"the store's structure is damaged near page {page}: {what}")


def truncated(size, needed):
    return Failure(f"the file is truncated: {size} bytes, the newest meta page needs {needed}")


def check_data_file(datadir):
    """Check data.mdb's meta pages and length before liblmdb maps the file.

    Returns a note for stderr, or None; raises Failure when the file is damaged or truncated,
    UsageError when it cannot be read."""
    path = os.path.join(datadir, "data.mdb")
    if not os.path.isfile(path):
        raise UsageError(f"{datadir}: no data.mdb (not a data directory?)")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e}")
    try:
        return check_meta_pages(fd)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e}")
    finally:
        os.close(fd)


def check_meta_pages(fd):
    def meta_page(number, offset):
        raw = os.pread(fd, META_PAGE.size, offset)
        if len(raw) < META_PAGE.size:
            raise Failure(f"the file is truncated: {os.fstat(fd).st_size} bytes, too short for "
                          f"LMDB's meta page {number}")
        m = MetaPage(*META_PAGE.unpack(raw))
        # What mdb_env_read_header refuses: it then refuses to open the store at all, even when
        # the other meta page is intact, so either page failing these checks is damage.
        if not m.mp_flags & P_META:
            raise damaged(number, f"meta page {number} is not marked as a meta page "
                                  f"(flags 0x{m.mp_flags:04x})")
        if m.mm_magic != MDB_MAGIC:
            raise damaged(number, f"meta page {number} has magic 0x{m.mm_magic:08x}, "
                                  f"not 0x{MDB_MAGIC:08x}")
        if m.mm_version != MDB_DATA_VERSION:
            raise damaged(number, f"meta page {number} has data version {m.mm_version}, "
                                  f"not {MDB_DATA_VERSION} (LMDB 0.9)")
        # Not checked by LMDB, but it divides by the page size and places page 1 by it.
        if not (256 <= m.free_psize <= 65536 and m.free_psize & (m.free_psize - 1) == 0):
            raise damaged(number, f"meta page {number} gives the page size {m.free_psize}")
        return m

    # A commit writes its transaction ID to meta page (ID mod 2), so the pages hold consecutive
    # IDs, the even one on page 0 (both 0 before the first commit), and a reader picks the page by
    # that parity (mdb_txn_renew0): with a damaged ID it would read an older snapshot without an
    # error, the last commit silently gone. A writer committing between the two reads can make
    # them look 2 or more apart, so that alone is read again before it counts as damage.
    for _ in range(5):
        meta0 = meta_page(0, 0)
        psize = meta0.free_psize           # LMDB, too, finds meta page 1 by meta page 0's size
        meta1 = meta_page(1, psize)
        ids = meta0.mm_txnid, meta1.mm_txnid
        if ids[0] % 2 or (ids[1] % 2 == 0 and ids[1]):
            bad = 0 if ids[0] % 2 else 1
            raise damaged(bad, f"meta page {bad} has transaction ID {ids[bad]}, of the wrong "
                               f"parity for page {bad}")
        if ids == (0, 0) or abs(ids[0] - ids[1]) == 1:
            break
        time.sleep(0.01)
    else:
        bad = 0 if ids[0] > ids[1] else 1
        raise damaged(bad, f"meta pages 0 and 1 have transaction IDs {ids[0]} and {ids[1]}, "
                           f"not consecutive")
    newest = meta1 if meta0.mm_txnid < meta1.mm_txnid else meta0  # as mdb_env_pick_meta
    number = 1 if newest is meta1 else 0
    size = os.fstat(fd).st_size  # after the meta pages: a running writer only lengthens the file
    if newest.free_psize != psize:
        raise damaged(number, f"meta page {number} gives the page size {newest.free_psize}, "
                              f"meta page 0 {psize}")
    last = newest.mm_last_pg
    if last < NUM_METAS - 1:
        raise damaged(number, f"meta page {number} gives the last page as {last}")
    for db, root in (("free-page", newest.free_root), ("main", newest.main_root)):
        if root != P_INVALID and not NUM_METAS <= root <= last:
            raise damaged(number, f"meta page {number} puts the {db} DB's root at page {root}, "
                                  f"outside pages {NUM_METAS}..{last}")
    needed = (last + 1) * psize
    if size >= needed:
        return None
    if needed > newest.mm_mapsize:  # LMDB never lets the last page pass the map's end
        raise Failure(f"the file is truncated: {size} bytes, the newest meta page needs {needed}, "
                      f"more than its map size {newest.mm_mapsize}, so meta page {number} may "
                      f"be damaged instead")
    # Shorter than the newest meta page says. That is not always damage: LMDB does not write a
    # page it allocates and frees in one transaction, so the file may end before mm_last_pg when
    # the pages past its end are free (mdb.c says so at mm_last_pg, and mdb_env_copy stops at the
    # end of the file for this reason). It is truncated if any page past the end is not free.
    first_missing = size // psize          # a partly present page is missing too
    free = free_pages(fd, newest, size)
    if last + 1 - first_missing > len(free) or \
            any(p not in free for p in range(first_missing, last + 1)):
        raise truncated(size, needed)
    return (f"note: data.mdb is {size} bytes, shorter than the {needed} its newest meta page "
            f"covers, but the pages past its end are all free (LMDB does not write pages it "
            f"frees at once): nothing is missing")


def free_pages(fd, meta, size):
    """The page numbers LMDB's free-page DB lists (layout above), read with plain reads.

    Raises Failure if one of that DB's own pages lies past the end of the file (truncated) or
    does not parse (damaged)."""
    psize, last = meta.free_psize, meta.mm_last_pg
    needed = (last + 1) * psize

    def pages(pgno, count=1):
        if not (NUM_METAS <= pgno and pgno + count - 1 <= last):
            raise damaged(pgno, f"the free-page DB refers to page {pgno}, beyond page {last}")
        if (pgno + count) * psize > size:
            raise truncated(size, needed)
        return os.pread(fd, count * psize, pgno * psize)

    free, seen = set(), set()
    todo = [] if meta.free_root == P_INVALID else [meta.free_root]
    while todo:
        pgno = todo.pop()
        if pgno in seen:
            raise damaged(pgno, "the free-page DB reaches this page twice")
        seen.add(pgno)
        page = pages(pgno)
        flags, lower = struct.unpack_from("=HH", page, 10)
        nodes = (lower - PAGE_HEADER) // 2
        if not flags & (P_BRANCH | P_LEAF) or lower < PAGE_HEADER or lower > psize:
            raise damaged(pgno, f"a free-page DB page has flags 0x{flags:04x}, lower {lower}")
        for i in range(nodes):
            (at,) = struct.unpack_from("=H", page, PAGE_HEADER + 2 * i)
            if at < lower or at + 8 > psize:
                raise damaged(pgno, f"node {i} is at offset {at}")
            lo_hi, node_flags, key_size = struct.unpack_from("=IHH", page, at)
            if flags & P_BRANCH:
                todo.append(lo_hi | node_flags << 32)
                continue
            data_at = at + 8 + key_size
            if node_flags & F_BIGDATA:     # the list is on overflow pages
                if data_at + 8 > psize:
                    raise damaged(pgno, f"node {i} runs past the page")
                (overflow,) = struct.unpack_from("=Q", page, data_at)
                count = (PAGE_HEADER - 1 + lo_hi) // psize + 1
                data = pages(overflow, count)[PAGE_HEADER:PAGE_HEADER + lo_hi]
            elif data_at + lo_hi > psize:
                raise damaged(pgno, f"node {i} runs past the page")
            else:
                data = page[data_at:data_at + lo_hi]
            # An MDB_IDL: a u64 count, then that many u64 page numbers.
            ids = len(data) // 8 - 1
            if ids < 0 or struct.unpack_from("=Q", data)[0] != ids:
                raise damaged(pgno, f"node {i} is not a list of free pages")
            free.update(struct.unpack_from(f"={ids}Q", data, 8))
    return free


# --- running the verification in a child process ----------------------------------------------
#
# The meta-page checks cannot see a damaged B-tree page, and liblmdb may abort (an assertion such
# as IS_LEAF(mp) in mdb_cursor_next), or die of SIGSEGV or SIGBUS, on one. Python cannot catch
# that in the process it happens in, so the verification runs in a forked child and this process
# reports how it died. The child writes its progress where the parent can still read it after a
# crash: a shared anonymous mapping, which costs no system call, so it is updated per entry.

class Progress:
    """The step being run and the last position verified, in memory shared with the parent."""
    STEPS = ("opening the store", "opening the tables", "following the key chain", "checking the checkpoints",
             "checking the entries", "checking the stream index", "checking the streams table", "checking the stream_heads table", "checking the side tables",
             "self-checking proofs")
    INT = struct.Struct("=q")              # at offset 0 the step's index, at 8 the position

    def __init__(self):
        self.shared = mmap.mmap(-1, 16)    # anonymous and MAP_SHARED: the parent sees the writes
        self.step(self.STEPS[0])
        self.verified(-1)                  # none yet

    def step(self, name):
        self.INT.pack_into(self.shared, 0, self.STEPS.index(name))

    def verified(self, position):
        self.INT.pack_into(self.shared, 8, position)

    def where(self):
        """(the step, 'after position N' or 'before any entry was verified')."""
        (step,) = self.INT.unpack_from(self.shared, 0)
        (position,) = self.INT.unpack_from(self.shared, 8)
        at = f"after position {position}" if position >= 0 else "before any entry was verified"
        return self.STEPS[step], at


# liblmdb's errors for pages that do not hold what they should (as opposed to, say, a missing
# directory or a full reader table): the store is damaged, exit 1.
STRUCTURE_ERRORS = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError,
                    lmdb.VersionMismatchError, lmdb.CursorFullError, lmdb.PageFullError,
                    lmdb.IncompatibleError, lmdb.BadTxnError, lmdb.BadValsizeError,
                    lmdb.BadDbiError, lmdb.PanicError)


def run_isolated(work):
    """Run work(progress) in a forked child: its output and exit code as they are, or, if it was
    killed by a signal, the signal and where it came as a report and exit code 1.

    Returns (exit code, None) or (None, report)."""
    progress = Progress()
    # The child's output is held in files, so that a crash's debris (liblmdb prints the failed
    # assertion to stderr) becomes part of one report instead of stray lines.
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:                           # the child: never returns from this block
        code = 2
        try:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            try:
                code = work(progress)
            except Exception as e:         # e.g. a MemoryError from a length read off a bad page
                step, at = progress.where()
                print(f"FAILED: the store's structure is damaged (the reader stopped on "
                      f"{type(e).__name__}: {e}, while {step}) {at}")
                code = 1
            except KeyboardInterrupt:
                code = 130
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    try:
        _, status = os.waitpid(pid, 0)
    except KeyboardInterrupt:              # interrupted: stop our child and wait for it
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        print("interrupted", file=sys.stderr)
        return 130, None
    code = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    if code >= 0:
        sys.stderr.buffer.write(err.read())
        sys.stderr.flush()
        sys.stdout.buffer.write(out.read())
        sys.stdout.flush()
        return code, None
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    step, at = progress.where()
    assertion = [line.strip() for line in err.read().decode("utf-8", "replace").splitlines()
                 if "Assertion" in line]
    detail = f" ({assertion[-1]})" if assertion else ""
    return None, (f"the store's structure is damaged (the reader died with {name}{detail} "
                  f"while {step}) {at}")


# --- the command ------------------------------------------------------------------------------

def open_env(datadir, no_lock):
    if not no_lock:
        try:  # registers us as a reader in lock.mdb, so a running writer keeps our snapshot
            return lmdb.open(datadir, readonly=True, lock=True, max_dbs=16, subdir=True), "locked"
        except STRUCTURE_ERRORS:
            raise                # data.mdb is damaged: reading it lock-free will not help
        except lmdb.Error as e:
            print(f"warning: cannot use lock.mdb ({e}); reading lock-free, which gives false "
                  "failures if a writer is running", file=sys.stderr)
    try:  # lock-free: fine for a quiescent copy or read-only media, not beside a live writer
        return lmdb.open(datadir, readonly=True, lock=False, max_dbs=16, subdir=True), "lock-free"
    except STRUCTURE_ERRORS:
        raise
    except lmdb.Error as e:
        raise UsageError(f"{datadir}: cannot open LMDB environment: {e}")


def verify_store(args, vkey, progress):
    """Open the store and verify it, printing the result: the exit code. Runs in the child."""
    try:
        # Read before the snapshot: a note is appended only after its commit (Formats.md).
        kept = read_checkpoints_log(args.datadir)
        env, mode = open_env(args.datadir, args.no_lock)
        start = time.monotonic()
        with env:
            n, streams, checkpoints, proofs, (idem_rows, sealed) = verify(
                env, vkey, args.fast, not args.no_self_check, progress, args.datadir, kept)
    except Failure as f:
        where = f"position {f.position}: " if f.position is not None else ""
        print(f"FAILED: {where}{f}")
        return 1
    except STRUCTURE_ERRORS as e:
        step, at = progress.where()
        print(f"FAILED: the store's structure is damaged (liblmdb: {e}, while {step}) {at}")
        return 1
    except (lmdb.Error, UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    secs = time.monotonic() - start
    print(f"OK: {n} entries, {streams} streams, {checkpoints} checkpoints verified "
          f"({'fast' if args.fast else 'full'}, {mode}), {proofs} proofs self-checked, "
          f"{idem_rows} idempotency rows{' (seals checked)' if sealed else ' (seals not checked: no signing.key)'}, "
          f"in {secs:.2f} s")
    return 0


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
        note = check_data_file(args.datadir)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Failure as f:
        print(f"FAILED: {f}")
        return 1
    if note:
        print(note, file=sys.stderr)
    try:
        code, report = run_isolated(lambda progress: verify_store(args, vkey, progress))
    except OSError as e:  # no temporary file or no process to run the verification in
        print(f"error: cannot run the verification: {e}", file=sys.stderr)
        return 2
    if report:
        print(f"FAILED: {report}")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
