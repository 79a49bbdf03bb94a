#!/usr/bin/env python3
"""Best-of-N wall times of the scan baseline and finscope -j1/-jN on one
capture, interleaved in the same run (the machine is shared and noisy).

    cargo build --release --examples
    python3 benches/cli_compare.py /tmp/g5m.pcap [rounds]

Also prints each command's peak RSS (os.wait4).
"""
import os
import subprocess
import sys
import time

path = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
cores = os.cpu_count() or 1
cmds = {
    "scan": ["./target/release/examples/scan", path],
    "j1": ["./target/release/finscope", "analyze", "--json", "-q", "-j1", path],
    f"j{cores}": ["./target/release/finscope", "analyze", "--json", "-q", f"-j{cores}", path],
}
best = {k: float("inf") for k in cmds}
rss = {k: 0 for k in cmds}
for _ in range(rounds):
    for k, c in cmds.items():
        t = time.perf_counter()
        p = subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{' '.join(c)} failed")
        best[k] = min(best[k], time.perf_counter() - t)
        rss[k] = max(rss[k], ru.ru_maxrss)
jn = f"j{cores}"
print({k: round(v, 3) for k, v in best.items()})
print("peak RSS (KiB):", rss)
print(
    f"ratio to scan: -j1 {best['j1'] / best['scan']:.2f}x, -{jn} {best[jn] / best['scan']:.2f}x; "
    f"-{jn} vs -j1 speedup {best['j1'] / best[jn]:.2f}x"
)
