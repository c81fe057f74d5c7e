#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""An independent Noise_KK_25519_ChaChaPoly_SHA256 initiator, written from
the Noise specification (rev. 34) and docs/PROTOCOL.md "Pair handshake" on
python3-cryptography's primitives, to check that jazzd's handshake
(client/noise.c, through hstool) is that protocol and nothing else.

noise_ref.py MYKEY.pem PEERPUB_B64 KEYID HSTOOL PEERKEY.pem VERSION: writes
message 1 of handshake version VERSION (1 or 2: type 1 or 4, prologue
"jazz pair v1" or "v2") for the peer, has `hstool respond` (jazzd's code)
answer it, reads its message 2 and compares both sides' split (version 2:
the data path's salts are zero). Prints TAP-ish "ok"/"not ok" lines; exits
non-zero on a mismatch."""
import base64
import hashlib
import hmac
import os
import subprocess
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

RAW = dict(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)


def hkdf(ck, ikm, n):
    """The spec's HKDF(chaining_key, input_key_material, num_outputs)."""
    temp = hmac.new(ck, ikm, hashlib.sha256).digest()
    outs, prev = [], b""
    for i in range(1, n + 1):
        prev = hmac.new(temp, prev + bytes([i]), hashlib.sha256).digest()
        outs.append(prev)
    return outs


class Sym:
    def __init__(self, name, prologue):
        self.h = name.ljust(32, b"\0") if len(name) <= 32 else hashlib.sha256(name).digest()
        self.ck, self.k, self.n = self.h, None, 0
        self.mix_hash(prologue)

    def mix_hash(self, d):
        self.h = hashlib.sha256(self.h + d).digest()

    def mix_key(self, ikm):
        self.ck, self.k = hkdf(self.ck, ikm, 2)
        self.n = 0

    def nonce(self):
        return b"\0" * 4 + self.n.to_bytes(8, "little")

    def enc(self, p):
        c = ChaCha20Poly1305(self.k).encrypt(self.nonce(), p, self.h)
        self.n += 1
        self.mix_hash(c)
        return c

    def dec(self, c):
        p = ChaCha20Poly1305(self.k).decrypt(self.nonce(), c, self.h)
        self.n += 1
        self.mix_hash(c)
        return p


def main():
    mykey, peerpub_b64, key_id, hstool, peerkey, version = sys.argv[1:7]
    key_id, version = int(key_id), int(version)
    tag = "version %d: " % version
    s = serialization.load_pem_private_key(open(mykey, "rb").read(), None)
    spub = s.public_key().public_bytes(**RAW)
    rs = base64.b64decode(peerpub_b64)
    rs_key = X25519PublicKey.from_public_bytes(rs)

    y = Sym(b"Noise_KK_25519_ChaChaPoly_SHA256",
            b"jazz pair v%d" % version + bytes([key_id]))
    y.mix_hash(spub)          # pre-message -> s
    y.mix_hash(rs)            # pre-message <- s
    e = X25519PrivateKey.generate()
    epub = e.public_key().public_bytes(**RAW)
    y.mix_hash(epub)                          # -> e
    y.mix_key(e.exchange(rs_key))             # es
    y.mix_key(s.exchange(rs_key))             # ss
    ts = int.from_bytes(os.urandom(6), "big")
    m1 = bytes([1 if version == 1 else 4, key_id]) + epub + y.enc(ts.to_bytes(8, "big"))

    out = subprocess.run([hstool, "respond", peerkey, base64.b64encode(spub).decode(),
                          base64.b64encode(m1).decode()], capture_output=True, text=True)
    if out.returncode:
        print("not ok - " + tag + "jazzd's responder refused the reference message 1: " + out.stderr.strip())
        sys.exit(1)
    lines = out.stdout.split()
    print("ok - " + tag + "jazzd's responder took the reference message 1")
    m2 = base64.b64decode(lines[0])
    bad = 0
    if int(lines[1]) != ts:
        print("not ok - " + tag + "the timestamp jazzd read is not the one sent")
        bad += 1
    if len(m2) != 50 or m2[0] != 2 or m2[1] != key_id:
        print("not ok - " + tag + "message 2 header/length")
        sys.exit(1)
    re_ = X25519PublicKey.from_public_bytes(m2[2:34])
    y.mix_hash(m2[2:34])                      # <- e
    y.mix_key(e.exchange(re_))                # ee
    y.mix_key(s.exchange(re_))                # se
    try:
        y.dec(m2[34:])
    except Exception:
        print("not ok - " + tag + "jazzd's message 2 does not authenticate under the reference")
        sys.exit(1)
    print("ok - " + tag + "jazzd's message 2 authenticates under the reference")
    t = hkdf(y.ck, b"", 4)                    # Split, extended to 128 bytes
    outb = b"".join(t)
    salts = [outb[64:68].hex(), outb[68:72].hex()] if version == 1 else ["00000000"] * 2
    want = [outb[0:32].hex(), outb[32:64].hex()] + salts + [outb[96:128].hex()]
    if lines[2:7] == want:
        print("ok - " + tag + "both sides derived the same keys, salts and confirm key")
    else:
        print("not ok - " + tag + "the split differs from the reference")
        bad += 1
    sys.exit(1 if bad else 0)


main()
