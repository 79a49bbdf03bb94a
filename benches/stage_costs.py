#!/usr/bin/env python3
"""The per-stage cost table of docs/performance.md: ns of CPU per packet for
each stage of `finscope analyze`, from `perf record` samples attributed to
the source file they were taken in.

    CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release --examples
    python3 benches/stage_costs.py FILE [-j1] [-j2] ...   # default: -j1 -j2

One paired run: the scan baseline and each finscope run, one after the
other, each under `perf record` (cpu-clock, 2 kHz, kernel included, DWARF
call graphs). Each user frame's address is resolved with `addr2line -i`
to its chain of inlined frames (fat LTO inlines the whole per-packet path
into a few functions, so the symbol alone says little); a sample goes to
the stage of the innermost frame, leaf to root, in finscope's sources or
in a crate that has a stage (pcap-parser: record parse, etherparse:
decode, hashbrown: table lookup), std frames being skipped (so a sort's
comparisons count where the sort is called). A kernel or memcpy leaf under
the capture code is `read` (the page-cache copy of read(2), the copy into
the 1 MiB buffer); a libc malloc/free leaf is `alloc`. cpu-clock's sample
period is in ns, so the sum of a stage's periods is its CPU time, divided
by the packets of the report (`packets.frames`) it is ns per packet.

Needs perf (`apt-get install -y linux-perf`) and binutils' addr2line. The
machine is shared: compare the shares and ratios within one run.
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

BIN = "./target/release/finscope"
SCAN = "./target/release/examples/scan"

# Innermost matching frame wins; first matching pattern wins.
STAGES = [
    ("record parse", [r"src/capture/", r"pcap-parser-"]),
    ("decode", [r"src/decode/", r"etherparse-"]),
    ("routing (shard hash + sort)", [r"src/pipeline/batch\.rs"]),
    ("expiry / compaction", [r"src/flow/wheel\.rs", r"src/flow/compact\.rs"]),
    ("table lookup", [r"src/flow/table\.rs", r"src/flow/key\.rs", r"hashbrown-", r"rustc-hash-"]),
    (
        "state machine",
        [r"src/flow/conn/", r"src/flow/state\.rs", r"src/flow/history\.rs",
         r"src/flow/retrans\.rs", r"src/flow/attempt\.rs", r"src/flow/mod\.rs"],
    ),
    ("remedies replay", [r"src/metrics/replay/"]),
    ("metrics", [r"src/metrics/"]),
    ("report / output", [r"src/report/", r"src/commands/", r"serde"]),
    ("pipeline (batches, threads)", [r"src/pipeline/", r"rayon", r"crossbeam"]),
    ("startup / main", [r"src/main\.rs", r"src/cli/"]),
]
ORDER = ["read"] + [s for s, _ in STAGES] + ["alloc (malloc/free)", "kernel (other)", "other"]


def stage_of(frames):
    """The stage of one address: frames innermost first, as addr2line -i
    prints them (file:line)."""
    for f in frames:
        for stage, pats in STAGES:
            if any(re.search(p, f) for p in pats):
                return stage
    return "other"


def perf_record(cmd, data):
    subprocess.run(
        ["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", "--call-graph", "dwarf",
         "-o", data, "--"] + cmd,
        check=True, stdout=subprocess.DEVNULL,
    )


def samples(data):
    """(period ns, [(symbol, offset in it, dso)], leaf first) of each
    sample (mangled symbols: no spaces; the binary is position-independent,
    so addresses are taken as symbol + offset)."""
    out = subprocess.run(
        ["perf", "script", "-i", data, "--no-demangle", "--no-inline",
         "-F", "period,ip,sym,symoff,dso"],
        check=True, capture_output=True, text=True,
    ).stdout
    period, chain = None, []
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line.startswith("\t"):
            if period is not None:
                yield period, chain
            period, chain = int(line.split()[0]), []
            continue
        m = re.match(r"\s*[0-9a-f]+\s+(\S*?)(?:\+0x([0-9a-f]+))?\s+\((.*)\)\s*$", line)
        if m:
            chain.append((m.group(1), int(m.group(2) or "0", 16), m.group(3)))
    if period is not None:
        yield period, chain


def symbols(binary):
    """mangled symbol -> its address in `binary`."""
    out = subprocess.run(["nm", binary], check=True, capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3:
            res.setdefault(f[2], int(f[0], 16))
    return res


def resolve(binary, addrs):
    """address -> list of frames (file:line), innermost first."""
    addrs = sorted(addrs)
    if not addrs:
        return {}
    p = subprocess.run(
        ["addr2line", "-i", "-a", "-e", binary],
        input="\n".join(hex(a) for a in addrs) + "\n",
        capture_output=True, text=True, check=True,
    )
    res, cur = {}, None
    for line in p.stdout.splitlines():
        if line.startswith("0x"):
            cur = int(line, 16)
            res[cur] = []
        elif cur is not None:
            res[cur].append(line)
    return res


def profile(cmd, binary):
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "perf.data")
        perf_record(cmd, data)
        rows = list(samples(data))
    real = os.path.realpath(binary)
    syms = symbols(binary)
    dsos = {}

    def ours(dso):
        if dso not in dsos:
            dsos[dso] = os.path.realpath(dso) == real
        return dsos[dso]

    def addr(sym, off):
        return syms[sym] + off if sym in syms else None

    wanted = {addr(s, o) for _, ch in rows for s, o, d in ch if ours(d)}
    frames = resolve(binary, wanted - {None})
    cost = collections.Counter()
    for period, chain in rows:
        if not chain:
            cost["other"] += period
            continue
        leaf_sym, _, leaf_dso = chain[0]
        if re.search(r"malloc|free|realloc|calloc|_int_", leaf_sym) and "libc" in leaf_dso:
            cost["alloc (malloc/free)"] += period
            continue
        stage = None
        for sym, off, dso in chain:
            if ours(dso):
                st = stage_of(frames.get(addr(sym, off), []))
                if st != "other":
                    stage = st
                    break
        copy = leaf_dso.startswith("[kernel") or re.search(r"memcpy|memmove", leaf_sym)
        if stage == "record parse" and copy:
            # The page-cache copy of read(2) and the copy into the buffer.
            stage = "read"
        if stage is None:
            stage = "kernel (other)" if leaf_dso.startswith("[kernel") else "other"
        cost[stage] += period
    return cost


def packets(path):
    out = subprocess.run([BIN, "analyze", "--json", "-q", "-j1", path],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["packets"]["frames"]


def main():
    path = sys.argv[1]
    jobs = [a for a in sys.argv[2:] if a.startswith("-j")] or ["-j1", "-j2"]
    n = packets(path)
    runs = {"scan": profile([SCAN, path], SCAN)}
    for j in jobs:
        runs[j] = profile([BIN, "analyze", "--json", "-q", j, path], BIN)
    print(f"{path}: {n} packets; ns of CPU per packet (share of the run)")
    print("| stage | " + " | ".join(runs) + " |")
    print("|---|" + "---|" * len(runs))
    for s in ORDER:
        if not any(r.get(s) for r in runs.values()):
            continue
        cells = []
        for r in runs.values():
            tot = sum(r.values())
            cells.append(f"{r.get(s, 0) / n:.0f} ({100 * r.get(s, 0) / tot:.0f}%)")
        print(f"| {s} | " + " | ".join(cells) + " |")
    cells = [f"**{sum(r.values()) / n:.0f}**" for r in runs.values()]
    print("| total | " + " | ".join(cells) + " |")
    scan = sum(runs["scan"].values())
    print("CPU against the scan: " + ", ".join(
        f"{k} {sum(r.values()) / scan:.2f}x" for k, r in runs.items() if k != "scan"))


if __name__ == "__main__":
    main()
