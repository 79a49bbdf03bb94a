#!/usr/bin/env python3
"""Instructions per packet of `finscope analyze -j1`, counted by valgrind
(callgrind), for this build and optionally older ones: a figure the shared,
noisy 2-core machine cannot move (wall and CPU times move 10-30% with the
other tenants' load; instruction counts repeat to within 0.01%).

    cargo build --release --bins --examples
    target/release/examples/gencap --profile gateway --packets 1000000 --out /tmp/gw1m.pcap
    python3 benches/instructions.py /tmp/gw1m.pcap [--before OLD_FINSCOPE ...] [--top N]

Prints, per build, the instructions of the whole run, per packet, and the
ratio to the first --before build; with --top N, the N functions with the
most instructions of their own (callgrind_annotate) of this build. Needs
valgrind (apt-get install -y valgrind). It runs about 50x slower than
finscope: 1M packets take about 30 s per build.

Instructions are not time: a cache miss costs no instruction. Use it beside
`benches/cli_compare.py` (paired wall and CPU times), not instead.
"""
import os
import re
import subprocess
import sys
import tempfile

args = sys.argv[1:]
befores = []
top = 0
while "--before" in args:
    i = args.index("--before")
    befores.append(args[i + 1])
    del args[i : i + 2]
if "--top" in args:
    i = args.index("--top")
    top = int(args[i + 1])
    del args[i : i + 2]
if not args:
    sys.exit(__doc__)
path = args[0]


def frames(p):
    """Packets in the capture, from `finscope analyze --json` (one run)."""
    import json

    out = subprocess.run(
        ["./target/release/finscope", "analyze", "--json", "-q", "-j1", p],
        check=True,
        capture_output=True,
    ).stdout
    return json.loads(out)["packets"]["frames"]


def count(binary, keep=None):
    with tempfile.TemporaryDirectory() as d:
        out = keep or os.path.join(d, "callgrind.out")
        r = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                binary,
                "analyze",
                "--json",
                "-q",
                "-j1",
                path,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if r.returncode != 0:
            sys.exit(f"{binary} failed:\n{r.stderr[-2000:]}")
        m = re.search(r"Collected : (\d+)", r.stderr)
        if not m:
            sys.exit("no instruction count in valgrind's output")
        return int(m.group(1))


n = frames(path)
builds = befores + ["./target/release/finscope"]
counts = {}
keep = tempfile.NamedTemporaryFile(suffix=".callgrind", delete=False).name if top else None
for b in builds:
    counts[b] = count(b, keep if b == builds[-1] else None)
base = counts[builds[0]]
for b in builds:
    c = counts[b]
    print(f"{b}: {c:,} instructions, {c / n:,.0f} per packet, {c / base:.3f}x the first")
if top:
    ann = subprocess.run(
        ["callgrind_annotate", keep], capture_output=True, text=True
    ).stdout.splitlines()
    rows = [l for l in ann if re.match(r"^\s*[\d,]+ \(", l)][1 : top + 1]
    print(f"top {top} functions by own instructions (this build):")
    for l in rows:
        print(" ", l.strip()[:160])
    os.unlink(keep)
