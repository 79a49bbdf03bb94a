#!/usr/bin/env python3
"""Per-host TCP evidence of a capture, by tshark, for PUBLIC.md.

    python3 testdata/kernel/finholder/public.py CAPTURE...

Per IP address that sends TCP: segments, TTL / hop-limit values (value x
count), data retransmissions (tcp.analysis.retransmission and tcp.len > 0),
duplicate ACKs, zero-window advertisements (tcp.analysis.zero_window), zero
window probes / keep-alives, FINs and RSTs sent; and per FIN: the TTL of the
segment that first ACKs it (from the other host), compared with that host's
TTL mode over the capture, and whether the acker kept one TTL throughout that
connection (then the FIN's ACK has the connection's own TTL).
"""
import collections
import subprocess
import sys

F = ["tcp.stream", "ip.src", "ipv6.src", "ip.ttl", "ipv6.hlim", "tcp.flags", "tcp.len", "tcp.seq_raw",
     "tcp.ack_raw", "tcp.analysis.retransmission", "tcp.analysis.duplicate_ack",
     "tcp.analysis.zero_window", "tcp.analysis.zero_window_probe", "tcp.analysis.keep_alive",
     "frame.time_epoch"]


def after(a, b):
    return (a - b) % (1 << 32) < (1 << 31)


def run(path):
    args = ["tshark", "-r", path, "-n", "-Y", "tcp", "-T", "fields", "-E", "separator=\t"]
    for f in F:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True).stdout
    H = collections.defaultdict(lambda: collections.defaultdict(int))
    ttls = collections.defaultdict(collections.Counter)
    fins = collections.defaultdict(list)  # stream -> [(src, end, t)]
    fin_acks = []
    sttl = collections.defaultdict(set)  # (stream, src) -> TTLs
    for line in out.splitlines():
        v = line.split("\t")
        try:
            stream = int(v[0]); src = v[1] or v[2]; ttl = int((v[3] or v[4]).split(",")[0])
            flags = int(v[5], 16); ln = int(v[6]); seq = int(v[7]); ack = int(v[8])
        except (ValueError, IndexError):
            continue
        h = H[src]
        h["segments"] += 1
        sttl[(stream, src)].add(ttl)
        ttls[src][ttl] += 1
        if v[9] and ln > 0:
            h["data_retr"] += 1
        if v[10]:
            h["dup_ack"] += 1
        if v[11]:
            h["zero_window"] += 1
        if v[12]:
            h["zw_probe"] += 1
        if v[13]:
            h["keep_alive"] += 1
        if flags & 4:
            h["rst"] += 1
        if flags & 1:
            h["fin"] += 1
            if not any(f[0] == src for f in fins[stream]):
                fins[stream].append([src, (seq + ln + 1) % (1 << 32), float(v[14]), False])
        if flags & 16:
            for f in fins[stream]:
                if f[0] != src and not f[3] and after(ack, f[1]):
                    f[3] = True
                    fin_acks.append((f[0], src, ttl, float(v[14]) - f[2], stream))
    print(f"### {path.split('/')[-1]}\n")
    print("| host | segments | TTL x count | data retr | dup ACKs | zero windows | ZW probes / keep-alives | FINs | RSTs |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for src in sorted(H, key=lambda s: -H[s]["segments"]):
        h = H[src]
        t = ", ".join(f"{k}x{c}" for k, c in ttls[src].most_common(4))
        print(f"| {src} | {h['segments']} | {t} | {h['data_retr']} | {h['dup_ack']} | {h['zero_window']} | "
              f"{h['zw_probe']}/{h['keep_alive']} | {h['fin']} | {h['rst']} |")
    print()
    per = collections.defaultdict(list)
    for fin_src, acker, ttl, dt, stream in fin_acks:
        per[(fin_src, acker)].append((ttl, dt, stream))
    for (fin_src, acker), xs in sorted(per.items()):
        mode = ttls[acker].most_common(1)[0][0]
        diff = sum(1 for t, _, _ in xs if t != mode)
        one = sum(1 for _, _, st in xs if len(sttl[(st, acker)]) == 1)
        dts = sorted(d for _, d, _ in xs)
        print(f"- FINs of {fin_src} ACKed by {acker}: {len(xs)}, FIN->ACK p50 {dts[len(dts) // 2] * 1e3:.1f} ms "
              f"max {dts[-1] * 1e3:.1f} ms; ACK TTL {sorted(set(t for t, _, _ in xs))}, {acker}'s mode {mode}: "
              f"{diff} differ from the mode; {one} of {len(xs)} connections have one TTL of {acker} throughout")
    print()


for p in sys.argv[1:]:
    run(p)
