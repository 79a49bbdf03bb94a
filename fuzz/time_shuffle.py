#!/usr/bin/env python3
"""A classic pcap with its clock disordered, for checks beside the fuzzers:

    python3 fuzz/time_shuffle.py IN.pcap OUT.pcap SEED back   # 5% of the records moved 1-600 s back
    python3 fuzz/time_shuffle.py IN.pcap OUT.pcap SEED jump   # 2% stamped 0, 2^32 - 1 or random seconds

Only the records' seconds change (microsecond or nanosecond files alike);
the records stay in file order. Used for the eighth session's campaign
(fuzz/README.md): a debug build must not panic on the result, and the
release build's report must be the same at -j1 to -j4.
"""
import random
import struct
import sys


def main():
    src, dst, seed, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    d = bytearray(open(src, "rb").read())
    magic = struct.unpack("<I", d[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off, recs = 24, []
    while off + 16 <= len(d):
        incl = struct.unpack(end + "I", d[off + 8 : off + 12])[0]
        recs.append(off)
        off += 16 + incl
    rng = random.Random(seed)
    for o in recs:
        r = rng.random()
        if mode == "back" and r < 0.05:
            sec = struct.unpack(end + "I", d[o : o + 4])[0]
            d[o : o + 4] = struct.pack(end + "I", max(0, sec - rng.randint(1, 600)))
        elif mode == "jump" and r < 0.02:
            t = rng.choice([0, 0xFFFFFFFF, rng.randint(0, 0xFFFFFFFF)])
            d[o : o + 4] = struct.pack(end + "I", t)
    open(dst, "wb").write(d)


if __name__ == "__main__":
    main()
