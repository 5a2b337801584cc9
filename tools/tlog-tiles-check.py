#!/usr/bin/env python3
"""An independent reader of a log published in C2SP tlog-tiles form.

Written from the public specifications alone — https://c2sp.org/tlog-tiles,
https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note and RFC 6962 section 2.1 —
not from Fascicolo's code, to show that a standard transparency-log client can read and verify
what `fascicolo tiles export` writes and what the daemon serves under /v1/tlog.

    tlog-tiles-check.py VERIFIER_KEY DIR [--key-rotations FILE]
    tlog-tiles-check.py VERIFIER_KEY --unix-socket SOCKET [--prefix /v1/tlog] [--key-rotations FILE]

VERIFIER_KEY is the log's signed-note verifier key, `<name>+<key id hex>+<base64(0x01 || key)>`.
It checks: the checkpoint's Ed25519 signature by that key and its origin line; every tile
(full and partial, every level) the checkpoint's tree size needs; that the hashes of each tile
above level 0 are the Merkle tree hashes of the full tiles below; that the root computed from
the leaf hashes is the checkpoint's; and, when entry bundles are present (or --entries), that
each entry's RFC 6962 leaf hash is the one in its level-0 tile. Prints OK and exits 0, or
prints what failed and exits 1.

A Fascicolo log's key can change (Formats.md, "Key rotation"): its checkpoint is then signed by
a later key. Give VERIFIER_KEY the log's first key and --key-rotations a JSON array of the
rotation checkpoints (notes, oldest first, as a person bundle's `keyRotations`), or the JSON
object `GET /v1/keys` answers (its `rotationCheckpoints`): each must be signed by the key current
before it and carry the next-key line `fascicolo/next-key/v1 <vkey>`, whose key signs the
checkpoints of larger sizes. tlog-tiles itself publishes no such notes: without --key-rotations
they are read from DIR/key-rotations.json (which `fascicolo tiles export` writes beside the
checkpoint after a rotation) or, with --unix-socket, from the daemon's `/v1/keys`.

Needs: pip install pynacl
"""

import argparse
import base64
import hashlib
import http.client
import os
import socket
import sys

import nacl.exceptions
import nacl.signing

WIDTH = 256


class Failure(Exception):
    pass


def tile_path(level, index, width):
    """tile/<L>/<N>[.p/<W>]: N in zero-padded 3-digit elements, all but the last prefixed x."""
    groups = []
    while True:
        groups.append("%03d" % (index % 1000))
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    n = "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])
    path = "tile/%s/%s" % (level, n)
    if width < WIDTH:
        path += ".p/%d" % width
    return path


class Directory:
    def __init__(self, root):
        self.root = root

    def get(self, path):
        try:
            with open(os.path.join(self.root, path), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None


class UnixSocketHTTP:
    def __init__(self, socket_path, prefix):
        self.socket_path = socket_path
        self.prefix = prefix.rstrip("/")

    def get(self, path):
        connection = http.client.HTTPConnection("localhost")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.socket_path)
        connection.sock = sock
        connection.request("GET", self.prefix + "/" + path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        if response.status == 404:
            return None
        if response.status != 200:
            raise Failure("GET %s answered %d" % (path, response.status))
        return body


def parse_verifier_key(text):
    name, key_id, key = text.strip().split("+", 2)
    raw = base64.b64decode(key)
    if len(raw) != 33 or raw[0] != 0x01:
        raise Failure("the verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
    computed = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if computed.hex() != key_id:
        raise Failure("the verifier key's id does not match its name and key")
    return name, computed, raw[1:]


NEXT_KEY_PREFIX = "fascicolo/next-key/v1 "


def follow_rotations(notes, key_name, key_id, public_key):
    """The keys of a rotated log: [(first tree size it signs, key_id, public_key)], from the
    given key through each rotation note (signed by the key current before it; its next-key
    line names the key of every larger size)."""
    keys = [(0, key_id, public_key)]
    for number, note in enumerate(notes):
        if not isinstance(note, str):
            raise Failure("key rotation %d is not a note" % number)
        size, _ = verify_checkpoint(note, key_name, keys[-1][1], keys[-1][2])
        lines = note.partition("\n\n")[0].split("\n")
        named = [line[len(NEXT_KEY_PREFIX):] for line in lines[3:] if line.startswith(NEXT_KEY_PREFIX)]
        if len(named) != 1:
            raise Failure("key rotation %d has no next-key line" % number)
        try:
            name, next_id, next_key = parse_verifier_key(named[0])
        except (ValueError, Failure):
            raise Failure("key rotation %d: its next-key line is not a verifier key" % number)
        if name != key_name or next_key == keys[-1][2]:
            raise Failure("key rotation %d: its next-key line names a key of another origin, or the same key" % number)
        if size < keys[-1][0]:
            raise Failure("key rotation %d is not larger than the one before it" % number)
        keys.append((size + 1, next_id, next_key))  # it signs the checkpoints beyond the rotation
    return keys


def key_for_size(keys, size):
    """The key that signs a checkpoint of `size`: the last whose first size is at most it."""
    return next((key_id, key) for first, key_id, key in reversed(keys) if first <= size)


def verify_checkpoint(note, key_name, key_id, public_key):
    """signed-note: the text, a blank line, then signature lines `— <name> <base64(id || sig)>`."""
    text, separator, signatures = note.partition("\n\n")
    if not separator:
        raise Failure("the checkpoint has no blank line before its signatures")
    text += "\n"
    verified = False
    for line in signatures.split("\n"):
        if not line:
            continue
        if not line.startswith("\u2014 "):
            raise Failure("a signature line does not start with an em dash")
        name, _, blob = line[2:].partition(" ")
        raw = base64.b64decode(blob)
        if name == key_name and raw[:4] == key_id:
            try:
                nacl.signing.VerifyKey(public_key).verify(text.encode(), raw[4:])
            except nacl.exceptions.BadSignatureError:
                raise Failure("the checkpoint's signature by the log's key does not verify")
            verified = True
    if not verified:
        raise Failure("the checkpoint carries no signature by the log's key")
    lines = text.split("\n")
    # tlog-checkpoint: origin, decimal tree size, base64 root hash, then optional extension lines.
    if lines[0] != key_name:
        raise Failure("the checkpoint's origin line is not the key's name")
    if not lines[1].isdigit() or (lines[1] != "0" and lines[1].startswith("0")):
        raise Failure("the tree size line is not a decimal number")
    root = base64.b64decode(lines[2])
    if len(root) != 32:
        raise Failure("the root hash is not 32 bytes")
    return int(lines[1]), root


def signed_by_given_key(notes, verifier_key):
    """The index of the first note that `verifier_key` signed, or len(notes)."""
    key = parse_verifier_key(verifier_key)
    for index, note in enumerate(notes):
        try:
            verify_checkpoint(note, *key)
            return index
        except (Failure, ValueError, TypeError, IndexError):
            continue
    return len(notes)


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes):
    """RFC 6962 section 2.1 over already hashed leaves: split at the largest power of two < n."""
    if len(hashes) == 1:
        return hashes[0]
    split = 1
    while split * 2 < len(hashes):
        split *= 2
    return node(mth(hashes[:split]), mth(hashes[split:]))


def check(source, verifier_key, entries, rotations=()):
    key_name, key_id, public_key = parse_verifier_key(verifier_key)
    keys = follow_rotations(rotations, key_name, key_id, public_key)
    note = source.get("checkpoint")
    if note is None:
        raise Failure("there is no checkpoint")
    note = note.decode("utf-8")
    try:
        claimed = int(note.split("\n")[1])
    except (IndexError, ValueError):
        claimed = 0
    if claimed < keys[-1][0] - 1:
        raise Failure("a key rotation is beyond the checkpoint's tree size")
    try:
        size, root = verify_checkpoint(note, key_name, *key_for_size(keys, claimed))
    except Failure as failure:
        if len(keys) == 1 and "no signature" in str(failure):
            raise Failure(str(failure) + " (if the log's key was rotated, give its rotation checkpoints with --key-rotations)")
        raise
    if size == 0:
        if root != hashlib.sha256(b"").digest():
            raise Failure("the root of the empty tree is not SHA-256 of nothing")
        return size, 0
    # Every level's tiles: the partial tile at level l has floor(s / 256^l) mod 256 hashes.
    levels = []
    level = 0
    count = size
    while count > 0:
        hashes = []
        for index in range((count + WIDTH - 1) // WIDTH):
            width = min(WIDTH, count - index * WIDTH)
            path = tile_path(level, index, width)
            body = source.get(path)
            if body is None:
                raise Failure("%s is missing" % path)
            if len(body) != 32 * width:
                raise Failure("%s has %d bytes, not %d" % (path, len(body), 32 * width))
            hashes.extend(body[i : i + 32] for i in range(0, len(body), 32))
        levels.append(hashes)
        level += 1
        count //= WIDTH
    # A hash at level l ≥ 1 is the Merkle tree hash of the full tile below it.
    for level in range(1, len(levels)):
        for index, value in enumerate(levels[level]):
            below = levels[level - 1][index * WIDTH : (index + 1) * WIDTH]
            if len(below) != WIDTH or mth(below) != value:
                raise Failure("hash %d of level %d is not the tree hash of the tile below" % (index, level))
    if mth(levels[0]) != root:
        raise Failure("the leaf hashes do not fold to the checkpoint's root")
    checked_entries = 0
    if entries is not False:
        for index in range((size + WIDTH - 1) // WIDTH):
            width = min(WIDTH, size - index * WIDTH)
            path = tile_path("entries", index, width)
            body = source.get(path)
            if body is None:
                if entries:
                    raise Failure("%s is missing" % path)
                break
            offset = 0
            for i in range(width):
                if offset + 2 > len(body):
                    raise Failure("%s ends inside entry %d" % (path, i))
                length = int.from_bytes(body[offset : offset + 2], "big")
                entry = body[offset + 2 : offset + 2 + length]
                if len(entry) != length:
                    raise Failure("%s ends inside entry %d" % (path, i))
                offset += 2 + length
                leaf = hashlib.sha256(b"\x00" + entry).digest()
                if leaf != levels[0][index * WIDTH + i]:
                    raise Failure("entry %d does not hash to its leaf" % (index * WIDTH + i))
                checked_entries += 1
            if offset != len(body):
                raise Failure("%s has bytes after its %d entries" % (path, width))
    return size, checked_entries


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("verifier_key")
    parser.add_argument("directory", nargs="?")
    parser.add_argument("--unix-socket")
    parser.add_argument("--prefix", default="/v1/tlog")
    parser.add_argument("--entries", action="store_true", help="require the entry bundles")
    parser.add_argument("--key-rotations", help="a JSON array of the log's rotation checkpoints, oldest first")
    arguments = parser.parse_args()
    rotations = []
    found_beside = False
    if not arguments.key_rotations and arguments.directory:
        # `fascicolo tiles export` publishes them beside the checkpoint once the key was rotated.
        beside = os.path.join(arguments.directory, "key-rotations.json")
        if os.path.exists(beside):
            arguments.key_rotations = beside
            found_beside = True
    if arguments.key_rotations:
        import json

        try:
            with open(arguments.key_rotations, encoding="utf-8") as f:
                rotations = json.load(f)
        except (OSError, ValueError) as error:
            print("error: --key-rotations: %s" % error, file=sys.stderr)
            return 2
        if isinstance(rotations, dict):  # GET /v1/keys's answer
            rotations = rotations.get("rotationCheckpoints")
        if not isinstance(rotations, list):
            print("error: --key-rotations: not a JSON array of notes, nor an object with rotationCheckpoints", file=sys.stderr)
            return 2
        if found_beside:
            # The file holds every rotation from the first key; the key given may be a later one:
            # follow from the first note that key signed (none: the key signs the checkpoint itself).
            rotations = rotations[signed_by_given_key(rotations, arguments.verifier_key):]
    if arguments.unix_socket:
        source = UnixSocketHTTP(arguments.unix_socket, arguments.prefix)
        if not arguments.key_rotations:
            import json

            try:
                keys = UnixSocketHTTP(arguments.unix_socket, "/v1").get("keys")
                rotations = json.loads(keys).get("rotationCheckpoints", []) if keys else []
            except (Failure, OSError, ValueError, AttributeError):
                rotations = []  # a daemon without /v1/keys: the key given must sign the checkpoint
    elif arguments.directory:
        source = Directory(arguments.directory)
    else:
        parser.error("give a directory or --unix-socket")
    try:
        size, entries = check(source, arguments.verifier_key, True if arguments.entries else None, rotations)
    except Failure as failure:
        print("FAILED: %s" % failure)
        return 1
    print("OK: tree of %d entries, %d entries checked against their leaves" % (size, entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
