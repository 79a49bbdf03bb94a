#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the repository's fixtures (README.md).

Run from the repository root: `python3 fuzz/seed_corpora.py`. Idempotent:
a seed is named by its content hash. The corpora stay out of git
(fuzz/.gitignore).

  capture      testdata/*.pcap* and ../shared/captures/* (first 64 KiB),
               testdata/kernel/**/capture.pcap (first 64 KiB)
  pcap         the same classic pcap files, their 24-byte header replaced
               by the target's 4 selector bytes
  pcapng       the same pcapng files, their first section header replaced
               by the target's 3 selector bytes
  decode       single frames of those files (the first 40 of each), with
               the target's link-type byte
  close_model  scripted conversations (handshake, 4-way close, FIN
               retransmissions, resets, port reuse, sequence wrap)
  filter       the expressions of tests/cli.rs and src/decode/filter/
  report_load  tests/golden/*.json
  bounds       docs/ci.md's finscope.toml and src/cli/options.rs's test files
  replay       bursts of local closes (ACKed, reset, killed, open) under
               each setting byte
"""

import glob
import hashlib
import os
import re
import struct
import sys

CAP = 64 * 1024
ROOT = os.getcwd()
OUT = os.path.join(ROOT, "fuzz", "corpus")

# The targets' tables (keep in sync with fuzz/fuzz_targets/*.rs).
PCAP_LINKS = [1, 101, 113, 276, 0, 108, 228, 229]
DECODE_LINKS = [1, 101, 113, 276, 0, 108, 228, 229, 12, 14]


def save(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def captures():
    files = sorted(glob.glob("testdata/*.pcap") + glob.glob("testdata/*.pcapng"))
    files += sorted(glob.glob("testdata/kernel/**/capture.pcap", recursive=True))
    files += sorted(glob.glob("../shared/captures/*.pcap") + glob.glob("../shared/captures/*.pcapng"))
    for p in files:
        with open(p, "rb") as f:
            yield p, f.read(CAP)


def pcap_frames(b):
    """(link, frame) of a classic pcap file; None if it is not one."""
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\x34\xcd\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d", b"\xa1\xb2\xcd\x34"):
        e = ">"
    else:
        return None
    extra = 8 if magic in (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34") else 0
    link = struct.unpack(e + "I", b[20:24])[0] & 0xFFFF
    out, pos = [], 24
    while pos + 16 + extra <= len(b):
        caplen = struct.unpack(e + "I", b[pos + 8 : pos + 12])[0]
        end = pos + 16 + extra + caplen
        if end > len(b):
            break
        out.append((link, b[pos + 16 + extra : end]))
        pos = end
    return out


def pcapng_frames(b):
    """(link, frame) of EPBs and SPBs of a pcapng file."""
    out, pos, e, links = [], 0, "<", []
    while pos + 12 <= len(b):
        if b[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
            e = "<" if b[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        btype, blen = struct.unpack(e + "II", b[pos : pos + 8])
        if blen < 12 or pos + blen > len(b):
            break
        body = b[pos + 8 : pos + blen - 4]
        if btype == 1 and len(body) >= 2:
            links.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            iface, _, _, caplen = struct.unpack(e + "IIII", body[:16])
            if iface < len(links):
                out.append((links[iface], body[20 : 20 + caplen]))
        elif btype == 3 and len(body) >= 4 and links:
            out.append((links[0], body[4:]))
        pos += blen
    return out


def seed_captures():
    for path, b in captures():
        save("capture", b)
        frames = []
        if b[:4] == b"\x0a\x0d\x0d\x0a":
            be = b[8:12] == b"\x1a\x2b\x3c\x4d"
            shb_len = struct.unpack((">" if be else "<") + "I", b[4:8])[0]
            if 28 <= shb_len <= len(b):
                save("pcapng", bytes([1 if be else 0, 0, 0]) + b[shb_len:])
            frames = pcapng_frames(b)
        elif len(b) >= 24:
            f = pcap_frames(b)
            if f is not None:
                magic = b[:4]
                variant = {
                    b"\xd4\xc3\xb2\xa1": 0,
                    b"\xa1\xb2\xc3\xd4": 1,
                    b"\x4d\x3c\xb2\xa1": 2,
                    b"\xa1\xb2\x3c\x4d": 3,
                    b"\x34\xcd\xb2\xa1": 4,
                    b"\xa1\xb2\xcd\x34": 5,
                }[magic]
                e = "<" if variant in (0, 2, 4) else ">"
                link = struct.unpack(e + "I", b[20:24])[0] & 0xFFFF
                li = PCAP_LINKS.index(link) if link in PCAP_LINKS else 0
                sel = variant | (li << 3)
                save("pcap", bytes([sel, 0, 0, 0]) + b[24:])
                # The same records with the buffer boundary inside them.
                save("pcap", bytes([sel, 1, 0x80, 0x01]) + b[24:])
                frames = f
        for link, frame in frames[:40]:
            if link in DECODE_LINKS:
                save("decode", bytes([DECODE_LINKS.index(link)]) + frame)
            else:
                save("decode", bytes([0xF0 | (link >> 8), link & 0xFF]) + frame)


# close_model: ops of 6 bytes [control, flags, gap, d, x, len].
SYN, SYNACK, ACK, PSH, FINACK, RST, RSTACK, FIN = 0, 1, 2, 3, 4, 5, 6, 7
FIN_PSH_ACK = 10


def op(client, flags, gap_class=2, gap=10, mode=0, d=0, x=0, length=0, pair=0):
    c = int(client) | (pair << 1) | (gap_class << 2) | (mode << 5)
    return bytes([c, flags, gap, d, x, length])


def handshake(pair=0, mode=0, d=7):
    return (
        op(True, SYN, 0, 0, mode, d, 3, pair=pair)
        + op(False, SYNACK, 2, 20, mode, d + 1, 5, pair=pair)
        + op(True, ACK, 2, 20, pair=pair)
    )


def seed_close_model():
    four_way = (
        handshake()
        + op(True, PSH, 2, 5, length=200)
        + op(False, ACK, 2, 20)
        + op(True, FINACK, 3, 50)
        + op(False, ACK, 2, 20)
        + op(False, FINACK, 3, 10)
        + op(True, ACK, 2, 20)
    )
    fin_rtx = (
        handshake()
        + op(True, FINACK, 3, 10)
        + op(True, FINACK, 2, 200, mode=4)
        + op(True, FINACK, 3, 40, mode=4)
        + op(True, FINACK, 3, 80, mode=4)
        # The other pair, much later: the capture goes on.
        + handshake(pair=1)
        + op(True, ACK, 5, 30, pair=1)
    )
    rst_after_fin = handshake() + op(True, FINACK, 3, 10) + op(False, RSTACK, 2, 30)
    simultaneous = (
        handshake()
        + op(True, FINACK, 2, 10)
        + op(False, FINACK, 0, 0)
        + op(True, ACK, 2, 20)
        + op(False, ACK, 0, 0)
    )
    reuse = four_way + op(True, SYN, 6, 7, mode=3, d=99, x=1) + op(False, SYNACK, 2, 20, mode=3, d=55)
    wrap = (
        op(True, SYN, 0, 0, 7, 0xF0)
        + op(False, SYNACK, 2, 20, 7, 0xFE)
        + op(True, ACK, 2, 20)
        + op(True, PSH, 2, 5, length=250)
        + op(False, FIN_PSH_ACK, 2, 20, length=200)
        + op(True, FINACK, 2, 20)
        + op(False, ACK, 2, 20)
    )
    half_closed = handshake() + op(True, FINACK, 3, 10) + op(False, ACK, 2, 20) + op(False, PSH, 6, 10, length=140)
    for cfg in (0x00, 0x10 | 0x80, 0x20, 0x30 | 0x40, 0x05):
        for s in (four_way, fin_rtx, rst_after_fin, simultaneous, reuse, wrap, half_closed):
            save("close_model", bytes([cfg]) + s)


def seed_filter():
    exprs = set()
    for path in ("tests/cli.rs", "src/decode/filter/mod.rs", "src/decode/filter/parse.rs"):
        text = open(path).read()
        for m in re.finditer(r'"((?:host|net|port|portrange|vlan|not|!|\(|src|dst|hots)[^"]*)"', text):
            exprs.add(m.group(1))
    exprs |= {
        "host 2001:db8::1 or net fe80::/10",
        "vlan 100 and not vlan 4095",
        "((port 1 || port 2) && !(host 10.0.0.1))",
        "portrange 0-65535",
        "not not not port 7",
    }
    for e in sorted(exprs):
        save("filter", e.encode())


def seed_report_load():
    for p in sorted(glob.glob("tests/golden/*.json")):
        save("report_load", open(p, "rb").read())


def seed_bounds():
    text = open("docs/ci.md").read()
    m = re.search(r"```toml\n(.*?)```", text, re.S)
    if m:
        save("bounds", m.group(1).encode())
    for s in (
        "[check]\nmax-fin-ratio = 0.2\nmax-fin-retrans = 1.0\nmax-unacked-fins = 0\n"
        'max-p99-fin-ack = "1s"\nmax-rst-ratio = "5%"\n',
        "[check]\nmax-fin-ration = 0.2\n",
        '[check]\nmax-p99-fin-ack = "soon"\n',
        '[check]\nmax-fin-retrans = 3\nmax-p99-fin-ack = "250ms"\n',
        "",
    ):
        save("bounds", s.encode())


# replay: 4 header bytes [bucket/tw/end, setting, limit, base], then lives
# of 8 bytes [peer, step, length class, length, end, fw2, rto, late].
def seed_replay():
    for c0, c1, c2, c3 in ((0x01, 0x00, 0x03, 0x00), (0x02, 0x08, 0x25, 0x00),
                           (0x01, 0x9a, 0x42, 0x04), (0x00, 0x20, 0x11, 0x02),
                           (0x61, 0x00, 0x05, 0x03)):
        lives = b""
        for i in range(24):
            end = [0, 1, 2, 3, 4, 5][i % 6] | (0x08 if i % 5 == 0 else 0)
            lives += bytes([i % 4, 0x05, 2, 3 + i % 7, end, 0x81 if i % 3 else 0, 20, 0x82 if i % 4 == 3 else 0])
        save("replay", bytes([c0, c1, c2, c3]) + lives)


def main():
    if not os.path.isdir("fuzz/fuzz_targets"):
        sys.exit("run from the repository root")
    seed_captures()
    seed_close_model()
    seed_filter()
    seed_report_load()
    seed_bounds()
    seed_replay()
    for t in sorted(os.listdir(OUT)):
        print(f"{t:12} {len(os.listdir(os.path.join(OUT, t))):5} seeds")


if __name__ == "__main__":
    main()
