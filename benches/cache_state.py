#!/usr/bin/env python3
"""How the page cache holds a capture changes the scan baseline by 2x: the
scan's best-of-5 time after the file was cached by one sequential read,
and after it was cached piecemeal (half of its 64 KiB blocks read 4 KiB at
a time in random order, then the rest by a sequential read).

    cargo build --release --examples
    python3 benches/cache_state.py /tmp/gw1m.pcap [rounds]

Both states end with the whole file cached; only the way it got there
differs (presumably large folios from readahead against single pages).
1M gateway packets, 2026-12-06: 0.047 / 0.043 s sequential against
0.092 / 0.097 s piecemeal (two alternations). finscope's time moves far
less (its `read` is a smaller part), so its ratio to the scan is about
twice as high on a sequentially cached file: `benches/cli_compare.py
--recache` measures there (docs/performance.md, "The scan's page-cache
state").
"""
import os
import random
import subprocess
import sys
import time

SCAN = "./target/release/examples/scan"


def cache(path, piecemeal):
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        if piecemeal:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
            blocks = range(0, size, 1 << 16)
            for off in random.Random(1).sample(blocks, len(blocks) // 2):
                os.pread(fd, 4096, off)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_NORMAL)
        while os.read(fd, 1 << 20):
            pass
    finally:
        os.close(fd)


def best_scan(path, rounds):
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run([SCAN, path], stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - t)
    return best


def main():
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    for piecemeal in (False, True, False, True):
        cache(path, piecemeal)
        name = "piecemeal" if piecemeal else "sequential"
        print(f"{name}: scan best of {rounds} {best_scan(path, rounds):.3f} s")


if __name__ == "__main__":
    main()
