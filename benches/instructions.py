#!/usr/bin/env python3
"""Instructions per packet of `finscope analyze -j1`, counted by valgrind
(callgrind), for this build and optionally older ones: a figure the shared,
noisy 2-core machine cannot move (wall and CPU times move 10-30% with the
other tenants' load; instruction counts repeat to within 0.01%).

    cargo build --release --bins --examples
    target/release/examples/gencap --profile gateway --packets 1000000 --out /tmp/gw1m.pcap
    python3 benches/instructions.py /tmp/gw1m.pcap [--before OLD_FINSCOPE ...] [--top N] [--stages] [--cache]

Prints, per build, the instructions of the whole run, per packet, and the
ratio to the first --before build; with --top N, the N functions with the
most instructions of their own (callgrind_annotate) of this build; with
--stages, the cost table's stages (docs/performance.md) in instructions per
packet for every build: each function's own instructions (its inlined
callees included) go to the stage its name names (`STAGES` below); with
--cache, the same for the data cache misses of a simulated 32 KiB L1 and
1 MiB L2 (8- and 16-way, 64-byte lines: this machine's per-core caches;
valgrind simulates no prefetcher, and no copy the kernel makes, so the
reader's rows count misses the hardware may not have). Needs
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
stages = "--stages" in args
if stages:
    args.remove("--stages")
cache = "--cache" in args
if cache:
    args.remove("--cache")
    stages = True
# callgrind's events: instructions, and with --cache L1 and L2 data misses.
EVENTS = ["Ir", "D1mr", "D1mw", "DLmr", "DLmw"] if cache else ["Ir"]
CACHE_SIM = ["--cache-sim=yes", "--D1=32768,8,64", "--LL=1048576,16,64", "--I1=32768,8,64"]
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
                *(CACHE_SIM if cache else []),
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


# (stage, function-name patterns), first match wins; a function's own
# instructions include what was inlined into it.
STAGES = [
    ("record parse", [r"finscope::capture::", r"pcap_parser::", r"nom::"]),
    ("decode + routing", [r"finscope::decode::", r"etherparse::", r"batch::process", r"route_chunk"]),
    (
        "expiry / compaction",
        [r"Shard<S>::compact", r"flow::compact::", r"Shard<S>::sweep", r"flow::wheel::",
         r"Stores::take", r"Shard<S>::finish_keys", r"Shard<S>::end_keys", r"Shard<S>::evict"],
    ),
    ("table lookup", [r"Shard<S>::process_at", r"hashbrown::", r"flow::key::", r"KeyMap", r"flow::spare::"]),
    ("state machine", [r"flow::conn::", r"flow::state::", r"flow::retrans::", r"flow::history::", r"flow::attempt::"]),
    ("remedies replay", [r"metrics::replay::", r"report::remedies::"]),
    ("metrics", [r"finscope::metrics::", r"hdrhistogram::", r"Shard<S>::retire"]),
    ("report / output", [r"finscope::report::", r"finscope::commands::", r"serde", r"BufWriter", r"itoa::", r"ryu::", r"std::io::"]),
    ("pipeline (batches, threads)", [r"finscope::pipeline::", r"rayon"]),
    ("alloc (malloc/free)", [r"malloc", r"_int_free", r"\bfree\b", r"realloc", r"unlink_chunk", r"cfree"]),
    ("memcpy / memset", [r"memcpy", r"memmove", r"memset"]),
]


def stage_table(out_file):
    """{stage: {event: count}} of one callgrind output."""
    ann = subprocess.run(
        ["callgrind_annotate", "--auto=no", "--threshold=100", "--show=" + ",".join(EVENTS), out_file],
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    sums = {name: dict.fromkeys(EVENTS, 0) for name, _ in STAGES}
    sums["other"] = dict.fromkeys(EVENTS, 0)
    num = r"([\d,]+|\.)(?: \(\s*[\d.]+%\))?\s+"
    row = re.compile(r"^\s*" + num * len(EVENTS) + r"(.*)$")
    for l in ann:
        m = row.match(l)
        if not m or "PROGRAM TOTALS" in l or ":" not in m.group(len(EVENTS) + 1):
            continue
        vals = [int(m.group(i + 1).replace(",", "").replace(".", "0")) for i in range(len(EVENTS))]
        fn = m.group(len(EVENTS) + 1).split(":", 1)[-1]
        for name, pats in STAGES:
            if any(re.search(p, fn) for p in pats):
                break
        else:
            name = "other"
        for e, v in zip(EVENTS, vals):
            sums[name][e] += v
    return sums


n = frames(path)
builds = befores + ["./target/release/finscope"]
counts = {}
keep = tempfile.NamedTemporaryFile(suffix=".callgrind", delete=False).name if top else None
tables = {}
for b in builds:
    if stages:
        out = tempfile.NamedTemporaryFile(suffix=".callgrind", delete=False).name
        counts[b] = count(b, out)
        tables[b] = stage_table(out)
        if not (top and b == builds[-1]):
            os.unlink(out)
        else:
            keep = out
    else:
        counts[b] = count(b, keep if b == builds[-1] else None)
base = counts[builds[0]]
for b in builds:
    c = counts[b]
    print(f"{b}: {c:,} instructions, {c / n:,.0f} per packet, {c / base:.3f}x the first")
if stages:
    names = [name for name, _ in STAGES] + ["other"]

    def table(title, events, fmt):
        print(title + " (| stage | " + " | ".join(builds) + " |):")
        for name in names + ["total"]:
            tables_of = [tables[b] for b in builds]
            vals = [
                sum(t[s][e] for s in names for e in events) if name == "total"
                else sum(t[name][e] for e in events)
                for t in tables_of
            ]
            print(f"| {name} | " + " | ".join(fmt.format(v / n) for v in vals) + " |")

    table("instructions per packet by stage", ["Ir"], "{:,.0f}")
    if cache:
        table("L1 data misses per packet by stage (32 KiB)", ["D1mr", "D1mw"], "{:.2f}")
        table("L2 data misses per packet by stage (1 MiB)", ["DLmr", "DLmw"], "{:.2f}")
if top:
    ann = subprocess.run(
        ["callgrind_annotate", "--auto=no", keep], capture_output=True, text=True
    ).stdout.splitlines()
    rows = [l for l in ann if re.match(r"^\s*[\d,]+ \(", l)][1 : top + 1]
    print(f"top {top} functions by own instructions (this build):")
    for l in rows:
        print(" ", l.strip()[:160])
    os.unlink(keep)
