#!/usr/bin/env python3
"""Independent verifier of a fascicolo person bundle.

Written from Sources/FascicoloLedger/FascicoloLedger.docc/Formats.md ONLY (sections "Person
bundles", "Entries", "The Merkle tree", "Checkpoints", "The stream-head map" and "Domain
payloads"; plus C2SP signed-note, tlog-checkpoint, tlog-cosignature, RFC 9162 and RFC 8032) --
no project source was read while writing it, and nothing of the project is imported. (Later
edits only followed Formats.md's wording of the rules and made its messages the same as
`fascicolo bundle verify`'s, so that a test can compare the two line for line.)

    verify-bundle.py BUNDLE [--key '<name>+<hex id>+<base64>'] [--witness VKEY]...

Checks, in the order Formats.md lists them under "A bundle verifies", and stops at the first
that does not hold:

  1. the format is known; the bundle's verifierKey is the key given with --key;
  2. the key chain: each note of keyRotations (absent: none) verifies with the key current
     before it, has a next-key line and a larger size, at most the checkpoint's; its key is
     current from that size on ("Key rotation"). Then the checkpoint note: the key's origin,
     four text lines (the fourth the stream-heads line; five when its last entry is a rotation,
     the fifth its next-key line), one valid note signature and one valid cosignature/v1 line
     by the key of its size; a valid cosignature by every --witness key;
  3. the streams are person:<person> then access:<person>;
  4. per stream: every entry parses, is of this stream, is signed by the key current at its
     position (its key ID and signature), sits at its
     position below the checkpoint's size with a verifying inclusion proof; versions 1..v with
     no gap, the last one the head; the head proof gives the checkpoint's stream-heads root;
  5. every payload is a domain payload; every `fields` opens from `sealed` with dataKey
     (XChaCha20-Poly1305 IETF) and equals it; with dataKey every sealed entry has `fields`;
     without it the person stream holds an ErasureExecuted entry.

Output: what the bundle establishes and exit 0, or "FAILED: <what, naming the stream, version
and position>" and exit 1. Exit 2 on usage errors, an unreadable file, a malformed --key or
--witness. Without --key the bundle's own verifierKey is used, and the output says so: that
only shows the bundle is consistent with a key it carries itself, not that the log is the one
you trust. Obtain the key out of band.

Needs: pip install pynacl
"""
import argparse
import base64
import datetime
import decimal
import hashlib
import json
import re
import sys

from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt  # pip install pynacl
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

FORMAT = "fascicolo-person-bundle/1"
EM_DASH = "\u2014 "
MAGIC = b"FSE1"
STREAM_HEADS_PREFIX = "fascicolo/stream-heads/v1 "
NEXT_KEY_PREFIX = "fascicolo/next-key/v1 "
ANY_NEXT_KEY = object()  # check_checkpoint: a rotation note, whose next-key line names the key to learn
SEALED_AD_PREFIX = b"fascicolo/sealed/v1"
EMPTY = bytes(32)
ED25519, COSIGNATURE_V1 = 0x01, 0x04


class Failure(Exception):
    """The first rule of "A bundle verifies" that does not hold: exit 1."""


class UsageError(Exception):
    """Bad arguments, a malformed key, an unreadable file: exit 2."""


# --- hashing, keys -----------------------------------------------------------------------------

def sha256(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def leaf_hash(record):
    return sha256(b"\x00", record)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


def map_leaf(key, version, position):
    return sha256(b"\x02", key, version.to_bytes(8, "big"), position.to_bytes(8, "big"))


def map_node(left, right):
    return sha256(b"\x03", left, right)


def bit(key, i):
    return (key[i // 8] >> (7 - i % 8)) & 1


def key_hash(name, sig_type, public_key):
    """C2SP signed-note key hash: SHA-256(name || 0x0A || type || key)[0:4]."""
    return sha256(name.encode(), b"\x0a", bytes([sig_type]), public_key)[:4]


def b64(text, size=None):
    """Strict base64 (RFC 4648 with padding, canonical); None when it is not, or not `size` bytes."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    if base64.b64encode(raw).decode() != text or (size is not None and len(raw) != size):
        return None
    return raw


def parse_vkey(vkey, sig_type, what):
    """'<name>+<8 hex>+<base64(type || key)>' -> (name, key_id, public_key); UsageError if not."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or not parts[0]:
        raise UsageError(f"{what} must be '<name>+<hex key id>+<base64 key>'")
    name, hex_id, blob = parts[0], parts[1], b64(parts[2])
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id) or blob is None or len(blob) != 33 or blob[0] != sig_type:
        kind = "an Ed25519 signed-note key (type 0x01)" if sig_type == ED25519 else \
               "a cosignature/v1 key (type 0x04)"
        raise UsageError(f"{what}: not {kind}")
    public_key = blob[1:]
    if key_hash(name, sig_type, public_key) != bytes.fromhex(hex_id):
        raise UsageError(f"{what}: key ID does not match name and key")
    return name, bytes.fromhex(hex_id), public_key


def ed25519_ok(public_key, message, signature):
    try:
        VerifyKey(public_key).verify(message, signature)
        return True
    except (BadSignatureError, ValueError):
        return False


def printable(text):
    """`text` with control characters (C0, DEL, C1) shown as '?': a bundle is hostile, a terminal is not."""
    return "".join("?" if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 else c for c in text)


def utc(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- RFC 9162 inclusion ------------------------------------------------------------------------

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


# --- records ------------------------------------------------------------------------------------

def parse_record(signed):
    """The fields of signed bytes (Formats.md "Entries"); ValueError if they do not parse exactly."""
    if len(signed) < 42:
        raise ValueError("shorter than the fixed fields")
    if signed[:4] != MAGIC:
        raise ValueError("bad magic")
    f = {"position": int.from_bytes(signed[4:12], "big"),
         "recorded_at": int.from_bytes(signed[12:20], "big", signed=True),
         "version": int.from_bytes(signed[20:28], "big"),
         "key_id": signed[28:32]}
    off = 32
    for name, width in (("stream", 2), ("type", 2), ("author", 2), ("payload", 4)):
        if off + width > len(signed):
            raise ValueError(f"truncated before the {name} length")
        size = int.from_bytes(signed[off:off + width], "big")
        off += width
        if off + size > len(signed):
            raise ValueError(f"the {name} runs past the end")
        f[name] = signed[off:off + size]
        off += size
    if off != len(signed):
        raise ValueError(f"{len(signed) - off} bytes left over after the payload")
    return f


# --- JSON ---------------------------------------------------------------------------------------

def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate member {k!r}")
        obj[k] = v
    return obj


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def load_json(text):
    """Strict JSON: duplicate names refused; numbers kept exact (int or Decimal)."""
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_float=decimal.Decimal,
                      parse_constant=_no_constants)


def json_equal(a, b):
    """JSON equality: true is not 1, an object is compared member by member, order aside."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, decimal.Decimal)) and isinstance(b, (int, decimal.Decimal)):
        return decimal.Decimal(a) == decimal.Decimal(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def is_uint(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 64


# --- the checkpoint (rule 2) --------------------------------------------------------------------

def vkey_text(name, public_key):
    return f"{name}+{key_hash(name, ED25519, public_key).hex()}+{base64.b64encode(bytes([ED25519]) + public_key).decode()}"


def check_checkpoint(note, log_key, witnesses, next_key=None, label="checkpoint"):
    """Rule 2 for one note signed by `log_key`. `next_key`: None for a note with four text lines;
    a public key for one whose fifth line is the next-key line naming it; ANY_NEXT_KEY for a
    rotation note of keyRotations. Returns (size, root, stream-heads root, time signed,
    witnesses that cosigned, the key its next-key line names or None)."""
    origin, key_id, public_key = log_key
    cosig_id = key_hash(origin, COSIGNATURE_V1, public_key)
    if not isinstance(note, str):
        raise Failure(f"{label}: not a string")
    text, sep, sigs = note.partition("\n\n")
    lines = text.split("\n")
    if not sep or not sigs.endswith("\n"):
        raise Failure(f"{label}: not a signed note (text, a blank line, signature lines)")
    named = None
    if next_key is None:
        if len(lines) != 4:
            raise Failure(f"{label}: {len(lines)} text lines, not four (origin, size, root, stream-heads line)")
    elif next_key is not ANY_NEXT_KEY:
        if len(lines) != 5 or lines[4] != NEXT_KEY_PREFIX + vkey_text(origin, next_key):
            raise Failure(f"{label}: its last entry is a key rotation, but its fifth line is not the next-key line "
                          f"naming the new key")
        named = next_key
    else:
        if len(lines) != 5:
            raise Failure(f"{label}: invalid key rotation: a rotation checkpoint has no next-key line, or is out of order")
        vkey = lines[4][len(NEXT_KEY_PREFIX):] if lines[4].startswith(NEXT_KEY_PREFIX) else ""
        try:
            named = parse_vkey(vkey, ED25519, "the next-key line")
        except UsageError:
            named = None
        if named is None or named[0] != origin or vkey_text(origin, named[2]) != vkey:
            raise Failure(f"{label}: invalid key rotation: a rotation checkpoint does not verify with the key it "
                          f"replaces: malformed checkpoint: the fifth line is not a next-key line")
        named = named[2]
    text += "\n"
    if lines[0] != origin:
        raise Failure(f"{label}: origin '{printable(lines[0])}' is not the key's '{origin}'")
    if not re.fullmatch(r"[1-9][0-9]{0,19}", lines[1]) or int(lines[1]) >= 1 << 64:
        raise Failure(f"{label}: tree size {lines[1]!r} is not a decimal number of 1 or more")
    size = int(lines[1])
    root = b64(lines[2], 32)
    if root is None:
        raise Failure(f"{label}: the root is not base64 of 32 bytes")
    if not lines[3].startswith(STREAM_HEADS_PREFIX):
        raise Failure(f"{label}: the fourth line is not the stream-heads line")
    heads_root = b64(lines[3][len(STREAM_HEADS_PREFIX):], 32)
    if heads_root is None:
        raise Failure(f"{label}: the stream-heads root is not base64 of 32 bytes")

    parsed = []
    for line in sigs[:-1].split("\n"):
        fields = line[2:].split(" ")
        blob = b64(fields[1]) if len(fields) == 2 else None
        if not line.startswith(EM_DASH) or not fields[0] or blob is None or len(blob) < 4:
            raise Failure(f"{label}: a signature line is malformed")
        parsed.append((fields[0], blob))

    message = text.encode()
    note_sigs, cosigs, signed_at = 0, 0, None
    for name, blob in parsed:
        if name != origin:
            continue  # another key's line: not the log's (C2SP signed-note)
        if blob[:4] == key_id:
            if len(blob) != 68 or not ed25519_ok(public_key, message, blob[4:]):
                raise Failure(f"{label}: the note signature by the log key does not verify")
            note_sigs += 1
        elif blob[:4] == cosig_id:
            ts = int.from_bytes(blob[4:12], "big")
            if len(blob) != 76 or not ed25519_ok(public_key, cosigned(ts, message), blob[12:]):
                raise Failure(f"{label}: the cosignature/v1 line by the log key does not verify")
            cosigs += 1
            signed_at = ts
    if note_sigs != 1 or cosigs != 1:
        raise Failure(f"{label}: expected one note signature and one cosignature/v1 line by the log "
                      f"key, found {note_sigs} and {cosigs}")

    cosigned_by = []
    for w_name, w_id, w_key in witnesses:
        ts = None
        for name, blob in parsed:
            if name != w_name or blob[:4] != w_id:
                continue
            t = int.from_bytes(blob[4:12], "big")
            if len(blob) != 76 or not ed25519_ok(w_key, cosigned(t, message), blob[12:]):
                raise Failure(f"{label}: the cosignature of witness {w_name} ({w_id.hex()}) does not verify")
            ts = t
        if ts is None:
            raise Failure(f"{label}: no cosignature by witness {w_name} ({w_id.hex()})")
        cosigned_by.append((w_name, w_id, ts))
    return size, root, heads_root, signed_at, cosigned_by, named


def cosigned(timestamp, text):
    return b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + text


# --- the head proof ------------------------------------------------------------------------------

def head_proof_root(stream, head, proof, where):
    """The map root the head proof gives for `stream` (Formats.md "The stream-head map")."""
    if not isinstance(proof, dict) or set(proof) != {"siblings", "terminal"} \
            or not isinstance(proof["siblings"], list):
        raise Failure(f"{where}: headProof is not {{siblings, terminal}}")
    siblings = [b64(s, 32) for s in proof["siblings"]]
    if None in siblings or len(siblings) > 256:
        raise Failure(f"{where}: headProof siblings are not up to 256 base64 hashes of 32 bytes")
    key, k, terminal = sha256(stream), len(siblings), proof["terminal"]
    if terminal == "head":
        if head is None:
            raise Failure(f"{where}: head is null but the head proof's terminal is \"head\"")
        h = map_leaf(key, head[0], head[1])
    elif head is not None:
        raise Failure(f"{where}: head is version {head[0]} at position {head[1]} but the head proof's "
                      f"terminal is not \"head\" (it proves the stream absent)")
    elif terminal == "empty":
        h = EMPTY
    elif isinstance(terminal, dict) and set(terminal) == {"key", "version", "position"}:
        other = b64(terminal["key"], 32)
        if other is None or not is_uint(terminal["version"]) or not is_uint(terminal["position"]):
            raise Failure(f"{where}: the head proof's terminal is malformed")
        if other == key or any(bit(other, i) != bit(key, i) for i in range(k)):
            raise Failure(f"{where}: the head proof's terminal is not another stream's leaf on this "
                          f"stream's path")
        h = map_leaf(other, terminal["version"], terminal["position"])
    else:
        raise Failure(f"{where}: the head proof's terminal is malformed")
    for i in range(k - 1, -1, -1):
        h = map_node(h, siblings[i]) if bit(key, i) == 0 else map_node(siblings[i], h)
    return h


# --- the bundle ----------------------------------------------------------------------------------

def verify(bundle, key_arg, witnesses):
    """Every rule of "A bundle verifies", in order. Returns what it established."""
    if not isinstance(bundle, dict):
        raise Failure("the bundle is not a JSON object")
    # 1. format and key
    if bundle.get("format") != FORMAT:
        raise Failure(f"format is not {FORMAT!r}")
    if not isinstance(bundle.get("verifierKey"), str):
        raise Failure("verifierKey is missing")
    if key_arg is not None:
        if bundle["verifierKey"].strip() != key_arg.strip():
            raise Failure("verifierKey is not the key given with --key")
        log_key = parse_vkey(key_arg, ED25519, "--key")
    else:
        try:
            log_key = parse_vkey(bundle["verifierKey"], ED25519, "verifierKey")
        except UsageError as e:
            raise Failure(str(e))
    origin, key_id, public_key = log_key

    # 2. the key chain, then the checkpoint with the key of its size
    rotations = bundle.get("keyRotations", [])  # a bundle written before rotations existed: none
    if not isinstance(rotations, list) or not all(isinstance(n, str) for n in rotations):
        raise Failure("keyRotations is not a list of checkpoint notes")
    chain = [(0, log_key)]  # (first position it signs, key), in order
    for note in rotations:
        label = "keyRotations"
        try:
            r_size, _, _, _, _, named = check_checkpoint(note, chain[-1][1], [], ANY_NEXT_KEY, label)
        except Failure as failure:
            if "invalid key rotation" in str(failure):
                raise
            # The signature lines: as `fascicolo bundle verify` words it.
            what = "checkpoint cosignature/v1 (its timestamp) does not verify" if "cosignature/v1 line" in str(failure) \
                else "checkpoint signature does not verify"
            raise Failure(f"{label}: invalid key rotation: a rotation checkpoint does not verify with the key it replaces: "
                          f"{what}")
        if r_size <= chain[-1][0]:
            raise Failure(f"{label}: invalid key rotation: a rotation checkpoint has no next-key line, or is out of order")
        chain.append((r_size, (origin, key_hash(origin, ED25519, named), named)))
    note = bundle.get("checkpoint")
    try:
        n_size = int(note.split("\n", 2)[1]) if isinstance(note, str) else 0
    except (IndexError, ValueError):
        n_size = 0
    if n_size and chain[-1][0] > n_size:
        raise Failure(f"keyRotations: a rotation checkpoint is larger than the checkpoint of size {n_size}")
    # The checkpoint of size N is signed by the key of entry N - 1; when N - 1 is itself the last
    # rotation, that is the key it replaced, and the checkpoint names the new one.
    rotated_at_end = len(chain) > 1 and chain[-1][0] == n_size
    signer = chain[-2][1] if rotated_at_end else chain[-1][1]
    size, root, heads_root, signed_at, cosigned_by, _ = check_checkpoint(
        note, signer, witnesses, chain[-1][1][2] if rotated_at_end else None)

    def key_at(position):
        """The key current at `position`: the last one whose first position is at most it."""
        return next(key for start, key in reversed(chain) if start <= position)

    # 3. streams
    person = bundle.get("person")
    if not isinstance(person, str) or not re.fullmatch(r"[0-9a-f]{32}", person):
        raise Failure("person is not a pseudonym (32 lower-case hex digits)")
    names = [f"person:{person}", f"access:{person}"]
    streams = bundle.get("streams")
    if not isinstance(streams, list) or len(streams) != 2 \
            or any(not isinstance(s, dict) or s.get("stream") != n for s, n in zip(streams, names)):
        raise Failure(f"streams are not exactly {names[0]} then {names[1]}")

    # 4. each stream's entries, versions, head and head proof
    parsed = []
    for s, name in zip(streams, names):
        parsed.append(check_stream(s, name, size, root, heads_root, key_at))

    # 5. domain payloads and fields
    data_key = bundle.get("dataKey", "missing")
    if data_key is not None:
        data_key = b64(data_key, 32)
        if data_key is None:
            raise Failure("dataKey is neither null nor base64 of 32 bytes")
    erased = any(e["type"] == b"ErasureExecuted" for e in parsed[0])
    if data_key is None and not erased:
        for name, entries in zip(names, parsed):
            sealed = next((e for e in entries if has_sealed(e["payload"])), None)
            if sealed is not None:
                raise Failure(f"dataKey is null but {names[0]} has no ErasureExecuted entry (the person was not erased), "
                              f"and {name}: version {sealed['version']} (position {sealed['position']}) is sealed")
    for s, name, entries in zip(streams, names, parsed):
        check_payloads(s["entries"], entries, name, data_key)
    fields = "clear" if data_key is not None else "erased" if erased else "none"

    return {"origin": origin, "key_id": key_id, "size": size, "signed_at": signed_at, "rotations": len(chain) - 1,
            "person": person, "streams": list(zip(names, streams, parsed)), "fields": fields,
            "cosigned_by": cosigned_by, "exportedAt": bundle.get("exportedAt"),
            "purpose": bundle.get("purpose")}


def check_stream(s, name, size, root, heads_root, key_at):
    """Rule 4 for one stream; returns its parsed entries."""
    head = s.get("head", "missing")
    if head is not None:
        if not isinstance(head, dict) or set(head) != {"version", "position"} \
                or not is_uint(head["version"]) or not is_uint(head["position"]) or head["version"] == 0:
            raise Failure(f"{name}: head is neither null nor {{version, position}}")
        head = (head["version"], head["position"])
    entries = s.get("entries")
    if not isinstance(entries, list):
        raise Failure(f"{name}: entries is not a list")
    parsed = []
    for i, item in enumerate(entries):
        where = f"{name}: entry {i + 1}"
        if not isinstance(item, dict):
            raise Failure(f"{where}: not an object")
        position = item.get("position")
        signed, signature = b64(item.get("signedBytes")), b64(item.get("signature"), 64)
        proof = item.get("inclusionProof")
        if not is_uint(position) or signed is None or signature is None or not isinstance(proof, list):
            raise Failure(f"{where}: position, signedBytes, signature or inclusionProof is missing or malformed")
        try:
            e = parse_record(signed)
        except ValueError as err:
            raise Failure(f"{where} (position {position}): the signed bytes do not parse: {err}")
        where = f"{name}: version {e['version']} (position {position})"
        if e["stream"] != name.encode():
            raise Failure(f"{where}: the entry belongs to stream '{printable(e['stream'].decode('utf-8', 'replace'))}'")
        _, key_id, public_key = key_at(e["position"])
        if e["key_id"] != key_id:
            raise Failure(f"{where}: key ID {e['key_id'].hex()} is not that of the log key current at its position, "
                          f"{key_id.hex()}")
        if not ed25519_ok(public_key, signed, signature):
            raise Failure(f"{where}: the entry signature does not verify")
        if e["position"] != position:
            raise Failure(f"{where}: the signed bytes say position {e['position']}")
        if position >= size:
            raise Failure(f"{where}: the position is not below the checkpoint's size {size}")
        hashes = [b64(h, 32) for h in proof]
        if None in hashes or not verify_inclusion(position, size, leaf_hash(signed + signature), hashes, root):
            raise Failure(f"{where}: the inclusion proof does not verify against the checkpoint's root")
        if e["version"] != i + 1:
            raise Failure(f"{where}: expected version {i + 1} here (versions 1, 2, ... with no gap)")
        e["signed"] = signed
        parsed.append(e)
    if head is None and parsed:
        raise Failure(f"{name}: head is null but the stream has {len(parsed)} entries")
    if head is not None:
        if not parsed:
            raise Failure(f"{name}: head is version {head[0]} at position {head[1]} but the stream has no entries")
        last = parsed[-1]
        if (last["version"], last["position"]) != head:
            raise Failure(f"{name}: the last entry is version {last['version']} at position {last['position']} "
                          f"but head is version {head[0]} at position {head[1]}")
    where = f"{name}: head " + (f"version {head[0]} at position {head[1]}" if head else "null")
    if head_proof_root(name.encode(), head, s.get("headProof"), where) != heads_root:
        raise Failure(f"{where}: the head proof does not give the checkpoint's stream-heads root")
    return parsed


def has_sealed(payload):
    """Whether a payload is a JSON object with `sealed` (a payload that is not is rule 5's to name)."""
    try:
        value = load_json(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(value, dict) and "sealed" in value


def check_payloads(items, parsed, name, data_key):
    """Rule 5 for one stream's entries."""
    ad_prefix = SEALED_AD_PREFIX + b"\x00" + name.encode() + b"\x00"
    for item, e in zip(items, parsed):
        where = f"{name}: version {e['version']} (position {e['position']})"
        try:
            payload = load_json(e["payload"].decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Failure(f"{where}: the payload is not JSON")
        if not isinstance(payload, dict):
            raise Failure(f"{where}: the payload is not a JSON object (a domain payload)")
        has_fields, sealed = "fields" in item, payload.get("sealed")
        if sealed is not None and (b64(sealed) is None or len(b64(sealed)) < 40):
            raise Failure(f"{where}: sealed is not base64 of nonce, ciphertext and tag")
        if has_fields and sealed is None:
            raise Failure(f"{where}: fields given but the payload has nothing sealed")
        if has_fields and data_key is None:
            raise Failure(f"{where}: fields given but dataKey is null")
        if sealed is not None and data_key is not None and not has_fields:
            raise Failure(f"{where}: the payload has sealed fields but the bundle gives no fields for it")
        if not has_fields:
            continue
        box = b64(sealed)
        try:
            clear = crypto_aead_xchacha20poly1305_ietf_decrypt(box[24:], ad_prefix + e["type"], box[:24], data_key)
        except CryptoError:
            raise Failure(f"{where}: sealed does not open with dataKey")
        try:
            opened = load_json(clear.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Failure(f"{where}: sealed opens to something that is not JSON")
        if not isinstance(opened, dict) or not json_equal(opened, item["fields"]):
            raise Failure(f"{where}: fields do not match the sealed bytes")


# --- output --------------------------------------------------------------------------------------

def report(r, key_from_bundle):
    out = [f"OK: the person bundle verifies",
           f"  log:        {r['origin']} (key ID {r['key_id'].hex()})"
           + (" -- key taken from the bundle itself: this only shows the bundle is consistent with the key "
              "it carries; pass --key with a key obtained out of band" if key_from_bundle
              else ", the key given with --key"),
           f"  checkpoint: size {r['size']}, signed {utc(r['signed_at'])}",
           f"  person:     {r['person']}"]
    for name, s, entries in r["streams"]:
        head = s["head"]
        out.append(f"  {name}: {len(entries)} entries, head "
                   + (f"version {head['version']} at position {head['position']}" if head else
                      "none (no entry: proven absent)")
                   + f", complete up to size {r['size']}")
    out.append("  fields:     " + {"clear": "in clear, each matching its sealed bytes",
                                  "erased": "erased (dataKey is null; the person stream holds ErasureExecuted)",
                                  "none": "none (no data key, and no entry has sealed fields)"}[r["fields"]])
    if r["cosigned_by"]:
        for name, key_id, ts in r["cosigned_by"]:
            out.append(f"  witness:    {name} ({key_id.hex()}) cosigned, at {utc(ts)}")
    else:
        out.append("  witnesses:  none asked for (--witness)")
    purpose = f"'{printable(r['purpose'])}'" if isinstance(r["purpose"], str) else "None"
    exported = printable(r["exportedAt"]) if isinstance(r["exportedAt"], str) else "None"
    out.append(f"  exported:   {exported} for purpose {purpose} (as the bundle says)")
    print("\n".join(out))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Verify a fascicolo person bundle (written from Formats.md only).")
    ap.add_argument("bundle")
    ap.add_argument("--key", help="the log's verifier key '<name>+<hex id>+<base64>', obtained out of band "
                                  "(default: the bundle's own verifierKey, which proves much less)")
    ap.add_argument("--witness", action="append", default=[],
                    help="a witness's cosignature/v1 key; its cosignature must be on the checkpoint (repeatable)")
    args = ap.parse_args(argv)
    try:
        if args.key is not None:
            parse_vkey(args.key, ED25519, "--key")
        witnesses = [parse_vkey(w, COSIGNATURE_V1, "--witness") for w in args.witness]
        try:
            with open(args.bundle, "rb") as f:
                data = f.read()
        except OSError as e:
            raise UsageError(f"cannot read {args.bundle}: {e.strerror}")
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        try:
            bundle = load_json(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Failure("the file is not a JSON document")
        result = verify(bundle, args.key, witnesses)
    except RecursionError:
        print("FAILED: the bundle nests JSON values too deeply")
        return 1
    except Failure as f:
        print(f"FAILED: {f}")
        return 1
    report(result, args.key is None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
