#!/usr/bin/env python3
"""Prints the facts README.md quotes for each run of the kernel pairs.

    python3 testdata/kernel/pairs/analyse.py [RUN ...]     (default: every run folder)

Stdlib only, plus the `zstd` command to read capture.pcap.zst. Per run: the
peak of every truth.csv series (value, first sample at it, T0-relative), the
final counters, and from the capture, per peer, the client's connections,
FIN copies, how its FIN ended (ACKed, reset by the client, or silence) and
when: a client RST less than 1 ms after its first FIN is a reset at close(),
a later one came at a retransmission timer (or answers a late peer packet).
"""
import collections
import csv
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LOCAL = "10.77.0.1"


def meta(run):
    with open(os.path.join(HERE, run, "meta.txt")) as f:
        return dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)


def truth(run, t0):
    with open(os.path.join(HERE, run, "truth.csv")) as f:
        rows = list(csv.DictReader(f))
    print(f"truth.csv: {len(rows)} samples, T0{(int(rows[0]['t_us']) - t0) / 1e6:+.2f} s "
          f"to T0{(int(rows[-1]['t_us']) - t0) / 1e6:+.2f} s")
    for col in rows[0]:
        if col in ("t_us", "sample_us"):
            continue
        vals = [int(r[col]) for r in rows]
        peak = max(vals)
        at = (int(rows[vals.index(peak)]["t_us"]) - t0) / 1e6
        print(f"  {col:17} peak {peak:6} at T0{at:+7.2f} s   final {vals[-1]}")
    dur = [int(r["sample_us"]) for r in rows]
    print(f"  ss dump {min(dur) / 1e3:.0f}-{max(dur) / 1e3:.0f} ms")


def packets(path):
    """(t_us, src, dst, sport, dport, flags, seq, ack, payload_len) of each TCP/IPv4 frame."""
    raw = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    magic = struct.unpack("<I", raw[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    off = 24
    while off + 16 <= len(raw):
        sec, frac, incl, orig = struct.unpack(end + "IIII", raw[off:off + 16])
        frame = raw[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < 54 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6:
            continue
        tot = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:]
        sport, dport, seq, ack = struct.unpack(">HHII", tcp[:12])
        doff = (tcp[12] >> 4) * 4
        t_us = sec * 1_000_000 + (frac // 1000 if nano else frac)
        yield (t_us, ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20])), sport, dport,
               tcp[13], seq, ack, tot - ihl - doff)


def capture(run, t0):
    FIN, SYN, RST, ACK = 1, 2, 4, 16
    conns = {}       # 4-tuple -> current connection dict
    done = []
    for t, src, dst, sp, dp, fl, seq, ack, plen in packets(os.path.join(HERE, run, "capture.pcap.zst")):
        out = src == LOCAL
        key = (sp, dst, dp) if out else (dp, src, sp)
        c = conns.get(key)
        if out and fl & SYN:
            if c is None or c["syn_seq"] != seq:
                if c is not None:
                    done.append(c)
                c = conns[key] = dict(peer=f"{dst}:{dp}", syn_seq=seq, fins=[], fin_seq=None,
                                      acked=None, rst=None, rst_after_kill=False, peer_fin=None)
            continue
        if c is None:
            continue
        if out:
            if fl & FIN:
                c["fins"].append(t)
                c["fin_seq"] = seq + plen
            if fl & RST and c["rst"] is None:
                c["rst"] = t
        else:
            if fl & ACK and c["fin_seq"] is not None and c["acked"] is None and ack == c["fin_seq"] + 1:
                c["acked"] = t
            if fl & FIN and c["peer_fin"] is None:
                c["peer_fin"] = t
    done.extend(conns.values())
    by = collections.defaultdict(collections.Counter)
    first_rst_at_close = None
    for c in done:
        p = by[c["peer"]]
        p["connections"] += 1
        if not c["fins"]:
            p["no_fin" if c["rst"] is None else "rst_without_fin"] += 1
            continue
        p["fin_copies"] += len(c["fins"])
        f0 = c["fins"][0]
        if c["acked"] is not None and (c["rst"] is None or c["acked"] < c["rst"]):
            p["fin_acked"] += 1
        elif c["rst"] is not None and c["rst"] - f0 < 1000:
            p["reset_at_close"] += 1
            first_rst_at_close = min(first_rst_at_close or c["rst"], c["rst"])
        elif c["rst"] is not None and c["peer_fin"] is not None and c["rst"] >= c["peer_fin"]:
            p["silent_then_rst_to_peer_fin"] += 1
        elif c["rst"] is not None:
            p["reset_at_timer"] += 1
        else:
            p["fin_unacked_silence"] += 1
    print("capture, per peer (client's view):")
    keys = ["connections", "fin_copies", "fin_acked", "reset_at_close", "reset_at_timer",
            "silent_then_rst_to_peer_fin", "fin_unacked_silence", "rst_without_fin", "no_fin"]
    print("  " + "peer".ljust(16) + "".join(k[:14].rjust(15) for k in keys))
    total = collections.Counter()
    for peer in sorted(by, key=lambda s: tuple(int(x) for x in s.replace(":", ".").split("."))):
        total.update(by[peer])
        print("  " + peer.ljust(16) + "".join(str(by[peer][k]).rjust(15) for k in keys))
    print("  " + "all".ljust(16) + "".join(str(total[k]).rjust(15) for k in keys))
    if first_rst_at_close:
        print(f"  first reset at close: T0{(first_rst_at_close - t0) / 1e6:+.2f} s")


def main():
    runs = sys.argv[1:] or sorted(d for d in os.listdir(HERE)
                                  if os.path.isfile(os.path.join(HERE, d, "meta.txt")))
    for run in runs:
        m = meta(run)
        t0 = int(m["t0_us"])
        print(f"== {run}: run={m['run']} seed={m['seed']} made {m['made_utc']}")
        print("  " + " ".join(f"{k}={m[k]}" for k in ("tcp_max_orphans", "tcp_orphan_retries",
                                                      "tcp_fin_timeout", "tcp_max_tw_buckets")))
        print("  " + " ".join(f"{k[6:]}={v}" for k, v in m.items() if k.startswith("nstat_TcpExt")))
        print("  " + " ".join(f"{k}={v}" for k, v in m.items() if k.startswith(("dmesg_", "tcpdump_"))))
        truth(run, t0)
        capture(run, t0)
        print()


if __name__ == "__main__":
    main()
