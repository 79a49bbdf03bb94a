#!/usr/bin/env python3
"""Best-of-N wall times of the scan baseline and finscope -j1/-jN on one
capture, interleaved in the same run (the machine is shared and noisy).

    cargo build --release --examples
    python3 benches/cli_compare.py /tmp/g5m.pcap [rounds] [--before OLD_FINSCOPE] [--recache]

Also prints each command's peak RSS and least CPU time (user + system,
os.wait4). With --before, an older build's -j1 and -jN run interleaved
too, and the ratios after/before are printed (the before/after of the
engine issue's figures).

With --recache, the file is first dropped from the page cache
(posix_fadvise DONTNEED) and read once from start to end, which leaves it
cached the way a first sequential read does (large folios): the scan's
`read` then costs about a third of the system time it costs on pages
cached piecemeal (5M gateway: scan 0.20 s against 0.40-0.44 s), and
finscope's ratios to it are the higher, honest ones (docs/performance.md,
"The scan's page-cache state"). Without it the page cache is taken as it is.
"""
import os
import subprocess
import sys
import time

args = sys.argv[1:]
before = None
if "--before" in args:
    i = args.index("--before")
    before = args[i + 1]
    del args[i : i + 2]
recache = "--recache" in args
if recache:
    args.remove("--recache")
path = args[0]
if recache:
    from cache_state import cache  # benches/cache_state.py, beside this script

    cache(path, piecemeal=False)
rounds = int(args[1]) if len(args) > 1 else 7
cores = os.cpu_count() or 1
cmds = {
    "scan": ["./target/release/examples/scan", path],
    "j1": ["./target/release/finscope", "analyze", "--json", "-q", "-j1", path],
    f"j{cores}": ["./target/release/finscope", "analyze", "--json", "-q", f"-j{cores}", path],
}
if before:
    cmds["before-j1"] = [before, "analyze", "--json", "-q", "-j1", path]
    cmds[f"before-j{cores}"] = [before, "analyze", "--json", "-q", f"-j{cores}", path]
best = {k: float("inf") for k in cmds}
cpu = {k: float("inf") for k in cmds}
rss = {k: 0 for k in cmds}
for _ in range(rounds):
    for k, c in cmds.items():
        t = time.perf_counter()
        p = subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{' '.join(c)} failed")
        best[k] = min(best[k], time.perf_counter() - t)
        cpu[k] = min(cpu[k], ru.ru_utime + ru.ru_stime)
        rss[k] = max(rss[k], ru.ru_maxrss)
jn = f"j{cores}"
print({k: round(v, 3) for k, v in best.items()})
print("least CPU s:", {k: round(v, 3) for k, v in cpu.items()})
print("peak RSS (KiB):", rss)
print(
    f"ratio to scan: -j1 {best['j1'] / best['scan']:.2f}x, -{jn} {best[jn] / best['scan']:.2f}x; "
    f"-{jn} vs -j1 speedup {best['j1'] / best[jn]:.2f}x"
)
if before:
    bj = f"before-{jn}"
    print(
        f"before: ratio to scan -j1 {best['before-j1'] / best['scan']:.2f}x, -{jn} {best[bj] / best['scan']:.2f}x; "
        f"-{jn} vs -j1 speedup {best['before-j1'] / best[bj]:.2f}x"
    )
    print(
        f"after/before: wall -j1 {best['j1'] / best['before-j1']:.2f}x, -{jn} {best[jn] / best[bj]:.2f}x; "
        f"CPU -j1 {cpu['j1'] / cpu['before-j1']:.2f}x, -{jn} {cpu[jn] / cpu[bj]:.2f}x"
    )
