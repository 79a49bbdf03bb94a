#!/usr/bin/env python3
"""Prints the measured truths README.md quotes for each finholder run.

    python3 testdata/kernel/finholder/analyse.py [RUN ...]   (default: every run folder)

Needs tshark (the per-segment flags are tshark's own: tcp.analysis.retransmission,
.duplicate_ack, .zero_window, .zero_window_probe, .keep_alive) and zstd. Per peer
(the truth kind from peers.csv): connections (SYN of a new tcp.stream from the
client), data retransmissions (retransmission flag and tcp.len > 0) each way,
duplicate ACKs each way, zero-window advertisements by the peer, zero-window
probes + keep-alives from the client (tshark names Linux's probes keep-alives),
the peer's TTL mode, the TTLs of the segments that ACK the client's FIN and of
RSTs from the peer's address, client FIN copies, and medians (p50) / maxima of:
SYN -> SYN-ACK, client data -> its ACK, first FIN copy -> its ACK, close() (from
connections.csv) -> first FIN on the wire. From truth.csv: peaks of ss's
FIN-WAIT-1 and orphan counts of the client namespace.
"""
import collections
import csv
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LOCAL = "10.79.0.1"
FIELDS = ["frame.time_epoch", "tcp.stream", "ip.src", "ip.ttl", "tcp.srcport", "tcp.dstport",
          "tcp.flags", "tcp.len", "tcp.seq_raw", "tcp.ack_raw", "tcp.analysis.retransmission",
          "tcp.analysis.duplicate_ack", "tcp.analysis.zero_window",
          "tcp.analysis.zero_window_probe", "tcp.analysis.keep_alive"]


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))]


def ms(x):
    return "-" if x is None else (f"{x * 1e3:.1f}" if x < 0.01 else f"{x * 1e3:.0f}")


def after(a, b):
    """a at or after b in 32-bit sequence space."""
    return (a - b) % (1 << 32) < (1 << 31)


def packets(run):
    cap = os.path.join(HERE, run, "capture.pcap.zst")
    raw = subprocess.run(["zstd", "-dc", cap], capture_output=True, check=True).stdout
    args = ["tshark", "-r", "-", "-n", "-T", "fields", "-E", "separator=\t"]
    for f in FIELDS:
        args += ["-e", f]
    out = subprocess.run(args, input=raw, capture_output=True, check=True).stdout.decode()
    for line in out.splitlines():
        v = line.split("\t")
        yield {
            "t": float(v[0]), "stream": int(v[1]), "src": v[2], "ttl": int(v[3]),
            "sport": int(v[4]), "dport": int(v[5]), "flags": int(v[6], 16), "len": int(v[7]),
            "seq": int(v[8]), "ack": int(v[9]), "retr": bool(v[10]), "dup": bool(v[11]),
            "zw": bool(v[12]), "zwp": bool(v[13]), "ka": bool(v[14]),
        }


def analyse(run):
    d = os.path.join(HERE, run)
    with open(os.path.join(d, "peers.csv")) as f:
        kinds = {r["peer"]: r["kind"] for r in csv.DictReader(f)}
    closes = {}
    with open(os.path.join(d, "connections.csv")) as f:
        for r in csv.DictReader(f):
            closes[(r["remote"], int(r["local_port"]))] = int(r["t_close_us"]) / 1e6
    conns = {}  # stream -> state
    P = collections.defaultdict(lambda: collections.defaultdict(int))
    L = collections.defaultdict(lambda: collections.defaultdict(list))
    for p in packets(run):
        out = p["src"] == LOCAL
        if out:
            peer, lport = None, p["sport"]
        else:
            peer, lport = p["src"], p["dport"]
        c = conns.get(p["stream"])
        syn, fin, rst, ackf = p["flags"] & 2, p["flags"] & 1, p["flags"] & 4, p["flags"] & 16
        if c is None:
            c = conns[p["stream"]] = {"peer": None, "lport": lport, "syn": None, "fin": None,
                                      "fin_end": None, "fin_acked": False, "data": {}}
        if out and syn and c["syn"] is None:
            c["syn"] = p["t"]
        if not out:
            c["peer"] = peer
        q = P[c["peer"] or "?"] if c["peer"] else None
        if q is None:
            c.setdefault("pending", []).append(p)
            continue
        for pp in c.pop("pending", []) + [p]:
            account(pp, c, P[c["peer"]], L[c["peer"]])
    peers = sorted(kinds, key=lambda a: int(a.split(".")[3]))
    for c in conns.values():
        if c["peer"] and c["fin"] is not None:
            t_close = closes.get((c["peer"], c["lport"]))
            if t_close is not None:
                L[c["peer"]]["close_fin"].append(c["fin"] - t_close)
    print(f"## {run}")
    print()
    print("| peer | kind | conns | data retr out/in | dup ACKs out/in | zero win (peer) | "
          "ZW probes/keep-alives (client) | FIN copies | peer TTL | TTL of FIN ACKs | RSTs from peer addr after its FIN (TTL x count) | "
          "SYN->SYN-ACK p50 ms | data ACK p50 ms | FIN->ACK p50/max ms | close()->FIN p50/max ms |")
    print("| " + " | ".join(["---"] * 15) + " |")
    for a in peers:
        q, l = P[a], L[a]
        ttl = collections.Counter(l["ttl"]).most_common(1)
        fin_ttl = ",".join(f"{k}x{v}" for k, v in sorted(collections.Counter(l["fin_ack_ttl"]).items())) or "-"
        rst_ttl = ",".join(f"{k}x{v}" for k, v in sorted(collections.Counter(l["rst_ttl"]).items())) or "-"
        if l["fin_rst"]:
            rst_ttl += f" (FIN->RST p50 {ms(pct(l['fin_rst'], .5))} ms)"
        print(f"| {a} | {kinds[a]} | {q['conns']} | {q['retr_out']}/{q['retr_in']} | "
              f"{q['dup_out']}/{q['dup_in']} | {q['zw']} | {q['zwp']}/{q['ka']} | {q['fins']} | "
              f"{ttl[0][0] if ttl else '-'} | {fin_ttl} | {rst_ttl} | {ms(pct(l['hs'], .5))} | "
              f"{ms(pct(l['data_ack'], .5))} | {ms(pct(l['fin_ack'], .5))}/{ms(pct(l['fin_ack'], 1))} | "
              f"{ms(pct(l['close_fin'], .5))}/{ms(pct(l['close_fin'], 1))} |")
    print()
    with open(os.path.join(d, "truth.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(d, "meta.txt")) as f:
        meta = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l and not l.startswith("-"))
    t0 = int(meta["t0_us"])
    for col in ("fin_wait_1", "orphan_ss", "fin_wait_2", "time_wait"):
        peak = max(rows, key=lambda r: int(r[col]))
        print(f"- ss `{col}` peak {peak[col]} at T0{(int(peak['t_us']) - t0) / 1e6:+.1f} s")
    last = rows[-1]
    print(f"- TcpExt at the end: AbortOnMemory {last['TCPAbortOnMemory']}, AbortOnTimeout "
          f"{last['TCPAbortOnTimeout']}, AbortOnData {last['TCPAbortOnData']}, AbortOnClose {last['TCPAbortOnClose']}")
    print(f"- packets {meta.get('tcpdump_packets_captured')}, dropped by kernel "
          f"{meta.get('tcpdump_packets_dropped_by_kernel')}")
    print()


def account(p, c, q, l):
    out = p["src"] == LOCAL
    syn, fin, rst, ackf = p["flags"] & 2, p["flags"] & 1, p["flags"] & 4, p["flags"] & 16
    if out and syn and not p["retr"]:
        q["conns"] += 1
    if not out:
        l["ttl"].append(p["ttl"])
        if syn and ackf and c["syn"] is not None and "hs" not in c:
            c["hs"] = True
            l["hs"].append(p["t"] - c["syn"])
    if p["retr"] and p["len"] > 0:
        q["retr_out" if out else "retr_in"] += 1
    if p["dup"]:
        q["dup_out" if out else "dup_in"] += 1
    if p["zw"] and not out:
        q["zw"] += 1
    if out and p["zwp"]:
        q["zwp"] += 1
    if out and p["ka"]:
        q["ka"] += 1
    if out and p["len"] > 0 and not syn and not p["retr"]:
        c["data"].setdefault((p["seq"] + p["len"]) % (1 << 32), p["t"])
    if not out and ackf and c["data"]:
        done = [e for e in c["data"] if after(p["ack"], e)]
        for e in done:
            l["data_ack"].append(p["t"] - c["data"].pop(e))
    if out and fin:
        q["fins"] += 1
        if c["fin"] is None:
            c["fin"] = p["t"]
            c["fin_end"] = (p["seq"] + p["len"] + 1) % (1 << 32)
    if not out and rst and c["fin"] is not None:
        l["rst_ttl"].append(p["ttl"])
        if not c["fin_acked"] and not c.get("fin_rst"):
            c["fin_rst"] = True
            l["fin_rst"].append(p["t"] - c["fin"])
    if (not out and ackf and not rst and c["fin_end"] is not None and not c["fin_acked"]
            and after(p["ack"], c["fin_end"])):
        c["fin_acked"] = True
        l["fin_ack"].append(p["t"] - c["fin"])
        l["fin_ack_ttl"].append(p["ttl"])


if __name__ == "__main__":
    runs = sys.argv[1:] or sorted(e for e in os.listdir(HERE)
                                  if os.path.isfile(os.path.join(HERE, e, "peers.csv")))
    for r in runs:
        analyse(r)
