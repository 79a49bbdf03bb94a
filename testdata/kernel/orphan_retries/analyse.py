#!/usr/bin/env python3
"""Prints the facts README.md (beside this file) states about this capture,
from capture.pcap, truth.csv, connections.csv and meta.txt alone: python3,
stdlib only, no finscope.

    python3 testdata/kernel/orphan_retries/analyse.py

A connection of the client 10.77.0.1 whose FIN was never ACKed and that sent
no RST before its last FIN copy was killed by the kernel (tcp_orphan_retries).
Its kill time is not in the capture: it is modelled as the RTO timer after the
last copy (last copy + 2 x the last interval + eps) and checked against the
truth (TcpExtTCPAbortOnTimeout, ss FIN-WAIT-1 and LAST-ACK counts).
"""
import bisect, csv, os, struct
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = "10.77.0.1"
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
TW_LEN = 60_000_000                     # TCP_TIMEWAIT_LEN, us


def packets(path):
    """(t_us, src, sport, dst, dport, flags, seq, ack, payload) of each TCP
    packet of a little-endian, microsecond, Ethernet/IPv4 pcap."""
    with open(path, "rb") as f:
        data = f.read()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4, "not a LE microsecond pcap"
    off = 24
    while off < len(data):
        sec, usec, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = frame[14:]
        if frame[12:14] != b"\x08\x00" or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        sport, dport, seq, ack, offflags = struct.unpack("!HHIIH", ip[ihl:ihl + 14])
        yield (sec * 1_000_000 + usec, ".".join(map(str, ip[12:16])), sport,
               ".".join(map(str, ip[16:20])), dport, offflags & 0x3F, seq, ack,
               struct.unpack("!H", ip[2:4])[0] - ihl - (offflags >> 12) * 4)


def connections(path):
    """Connections keyed by (client port, server, server port), a new one at
    each client SYN with a new ISN: dicts with the packets out (client ->
    server) and in, each (t_us, flags, seq, ack, payload)."""
    by_key = defaultdict(list)
    for t, src, sp, dst, dp, fl, seq, ack, ln in packets(path):
        out = src == CLIENT
        key = (sp, dst, dp) if out else (dp, src, sp)
        lst = by_key[key]
        if out and fl & SYN and not fl & ACK and (not lst or lst[-1]["isn"] != seq):
            lst.append({"key": key, "isn": seq, "out": [], "in": []})
        if lst:
            lst[-1]["out" if out else "in"].append((t, fl, seq, ack, ln))
    return [c for lst in by_key.values() for c in lst]


def describe(c, log):
    """Adds kind (from connections.csv), FIN copies, when the FIN was ACKed,
    client RSTs, whether the kernel killed it, when it entered TIME-WAIT."""
    rows = log.get(c["key"], [])
    syn = c["out"][0][0]
    row = min(rows, key=lambda r: abs(int(r["t_connect_us"]) - syn), default=None)
    c["kind"] = row["kind"] if row else "heartbeat"
    c["close_us"] = int(row["t_close_us"]) if row else None
    fins = [(t, seq + ln + 1) for t, fl, seq, _, ln in c["out"] if fl & FIN]
    c["fins"] = [t for t, _ in fins]
    c["rst"] = [(t, fl) for t, fl, *_ in c["out"] if fl & RST]
    c["acked"] = None
    if fins:
        end = fins[0][1] % 2**32
        c["acked"] = next((t for t, fl, _, a, _ in c["in"] if t >= fins[0][0] and fl & ACK
                           and (a - end) % 2**32 < 2**31), None)
    c["killed"] = bool(fins) and c["acked"] is None and not any(t <= c["fins"][-1] for t, _ in c["rst"])
    if c["killed"]:
        f = c["fins"]
        c["next_rto"] = f[-1] + 2 * (f[-1] - f[-2])
    # TIME-WAIT: active close whose FIN was ACKed, from the server's FIN on.
    srv_fin = next((t for t, fl, *_ in c["in"] if fl & FIN), None)
    c["tw_from"] = (max(srv_fin, c["acked"]) if srv_fin and c["acked"] and
                    c["kind"] != "server_first" else None)


def spread(values, unit=1e3, fmt="{:.1f}"):
    v = sorted(values)
    return "/".join(fmt.format(x / unit) for x in (v[0], v[len(v) // 2], v[-1]))


def main():
    meta = dict(l.strip().split("=", 1) for l in open(os.path.join(HERE, "meta.txt")) if "=" in l)
    t0 = int(meta["t0_us"])
    rel = lambda t: (t - t0) / 1e6      # noqa: E731
    truth = list(csv.DictReader(open(os.path.join(HERE, "truth.csv"))))
    log = defaultdict(list)
    for r in csv.DictReader(open(os.path.join(HERE, "connections.csv"))):
        log[(int(r["local_port"]), r["remote"], int(r["remote_port"]))].append(r)
    conns = connections(os.path.join(HERE, "capture.pcap"))
    groups = defaultdict(list)
    for c in conns:
        describe(c, log)
        groups[(c["key"][1], c["key"][2], c["kind"])].append(c)
    killed = [c for c in conns if c["killed"]]

    # ---------------------------------------------------------------- capture
    out = [p for c in conns for p in c["out"]]
    inn = [p for c in conns for p in c["in"]]
    ports = Counter(c["key"][0] for c in conns)
    print(f"capture: {len(out) + len(inn)} packets, {len(conns)} connections;"
          f" client FIN segments {sum(1 for p in out if p[1] & FIN)}"
          f" ({sum(len(c['fins']) - 1 for c in conns if c['fins'])} repeats),"
          f" server FINs {sum(1 for p in inn if p[1] & FIN)},"
          f" client RSTs {sum(1 for p in out if p[1] & RST)}"
          f" (bare {sum(1 for p in out if p[1] == RST)}), server RSTs {sum(1 for p in inn if p[1] & RST)};"
          f" local ports used more than once: {sum(1 for n in ports.values() if n > 1)}")

    print("\nper group: connections, killed, FIN copies (copies: connections)")
    for g in sorted(groups):
        cs = groups[g]
        k = Counter(len(c["fins"]) for c in cs if c["killed"])
        s = Counter(len(c["fins"]) for c in cs if not c["killed"] and c["fins"])
        print(f"  {g[0]}:{g[1]} {g[2]:<12} {len(cs):5}, killed {sum(k.values()):4}"
              f" {dict(sorted(k.items()))}, not killed {dict(sorted(s.items()))}")
    first = [c["fins"][0] for c in killed if c["key"][1] in ("10.77.0.3", "10.77.0.6")]
    print(f"  killed: {len(killed)}; black-holed ones closed from T0+{rel(min(first)):.3f}"
          f" to T0+{rel(max(first)):.3f} s")

    # ---------------------------------------------------------------- copies
    sets = [("FIN-WAIT-1, default RTO (.3, .6)", lambda c: c["key"][1] in ("10.77.0.3", "10.77.0.6")),
            ("LAST-ACK (.2:8081)", lambda c: c["kind"] == "server_first"),
            ("FIN-WAIT-1, rto_min 1000ms (.4:8084)", lambda c: c["key"][2] == 8084)]
    print("\nkilled connections, FIN copies (ms after the first copy; min/median/max)")
    for label, sel in sets:
        ks = [c for c in killed if sel(c)]
        n = len(ks[0]["fins"])
        assert all(len(c["fins"]) == n for c in ks)
        print(f"  {label}: {len(ks)} killed, all with {n} copies;"
              f" first FIN {spread([c['fins'][0] - c['close_us'] for c in ks], 1, '{:.0f}')} us after close()")
        for i in range(1, n):
            print(f"    copy {i + 1}: at {spread([c['fins'][i] - c['fins'][0] for c in ks])},"
                  f" {spread([c['fins'][i] - c['fins'][i - 1] for c in ks])} after copy {i}")
    print(f"  nstat TcpExtTCPLossProbes={meta.get('nstat_TcpExtTCPLossProbes')}; connections with"
          f" a repeated FIN: {sum(1 for c in conns if len(c['fins']) > 1)}")

    # ---------------------------------------------------------------- kill time
    def count(ivs, at, eps):
        """Intervals (enter, leave or None, conn) open at `at`."""
        return sum(1 for a, b, c in ivs if a <= at < (
            b if b is not None else c["next_rto"] + eps if c["killed"] else 1 << 62))

    fw1 = [(c["fins"][0], c["acked"], c) for c in conns if c["fins"] and c["kind"] != "server_first"]
    la = [(c["fins"][0], c["acked"], c) for c in conns if c["fins"] and c["kind"] == "server_first"]
    base = int(truth[0]["abort_on_timeout"])
    print(f"\nkill = last copy + 2 x (last copy - previous copy) + eps: samples (of {len(truth)})"
          " where the truth is off the model\n  (abort counter read at t_us + sample_us/2;"
          " ss counts anywhere within the dump, t_us -/+ sample_us/2)")
    print("  eps ms  abort_on_timeout  fin_wait_1  last_ack")
    best = None
    for eps_ms in range(-12, 13, 2):
        eps = eps_ms * 1000
        kills = sorted(c["next_rto"] + eps for c in killed)
        bad = [0, 0, 0]
        for r in truth:
            t, half = int(r["t_us"]), int(r["sample_us"]) // 2
            bad[0] += bisect.bisect_right(kills, t + half) != int(r["abort_on_timeout"]) - base
            for j, (ivs, col) in enumerate(((fw1, "fin_wait_1"), (la, "last_ack")), 1):
                n = [count(ivs, x, eps) for x in (t - half, t, t + half)]
                bad[j] += not min(n) <= int(r[col]) <= max(n)
        print(f"  {eps_ms:+4d}    {bad[0]:4d}              {bad[1]:4d}        {bad[2]:4d}")
        if best is None or sum(bad) < best[0]:
            best = (sum(bad), eps_ms)
    eps = best[1] * 1000
    for label, sel in sets:
        ks = [c for c in killed if sel(c)]
        k = lambda c: c["next_rto"] + eps   # noqa: E731
        print(f"  {label}, eps {best[1]:+d} ms: kill {spread([k(c) - c['fins'][0] for c in ks])} ms"
              f" after the first copy, {spread([k(c) - c['fins'][-1] for c in ks])} after the last,"
              f" {spread([k(c) - c['fins'][2] for c in ks])} after copy 3")

    # ---------------------------------------------------------------- after the kill
    print("\nkilled connections, what came later (s after the first FIN copy; min/median/max)")
    for g in sorted(groups):
        ks = [c for c in groups[g] if c["killed"]]
        if not ks:
            continue
        later = [(c, next(p for p in c["in"] if p[0] > c["fins"][-1])) for c in ks
                 if any(p[0] > c["fins"][-1] for p in c["in"])]
        bare = [(c, next(t for t, fl in c["rst"] if fl == RST)) for c in ks
                if any(fl == RST for _, fl in c["rst"])]
        line = f"  {g[0]}:{g[1]} {g[2]}: {len(ks)} killed; {len(later)} got a server segment"
        if later:
            line += (f" (flags {dict(Counter(p[1] for _, p in later))})"
                     f" at {spread([p[0] - c['fins'][0] for c, p in later], 1e6, '{:.3f}')}")
        line += f"; {len(bare)} answered with a bare RST"
        if bare:
            line += (f" at {spread([t - c['fins'][0] for c, t in bare], 1e6, '{:.3f}')},"
                     f" {spread([t - p[0] for (c, t), (_, p) in zip(bare, later)], 1, '{:.0f}')} us"
                     " after the server's segment")
        print(line)
    rst = Counter(fl for c in conns for _, fl in c["rst"])
    print(f"  client RST flags (all connections): {dict(rst)}; nstat TcpOutRsts={meta.get('nstat_TcpOutRsts')}")

    # ---------------------------------------------------------------- TIME-WAIT
    # Oldest first: truth count n at sample t means the first (entered by t)
    # - n entries have left; those that left since the previous sample left
    # between that sample and this one.
    tws = sorted(c["tw_from"] for c in conns if c["tw_from"])
    early, late, prev_t, prev_gone = [], [], None, 0
    for r in truth:
        t = int(r["t_us"])
        gone = bisect.bisect_right(tws, t) - int(r["time_wait"])
        for e in tws[prev_gone:max(gone, prev_gone)]:
            early.append(prev_t - (e + TW_LEN))     # still there at prev_t
            late.append(t - (e + TW_LEN))           # gone by t
        prev_t, prev_gone = t, max(gone, prev_gone)
    print(f"\nTIME-WAIT: {len(tws)} entries (from the server's FIN); each left between the last"
          f" sample that had it and the first that did not: {min(early) / 1e6:+.2f} to"
          f" {max(early) / 1e6:+.2f} s and {min(late) / 1e6:+.2f} to {max(late) / 1e6:+.2f} s"
          " after its 60 s (oldest leave first)")

    # ---------------------------------------------------------------- peaks
    print("\ntruth peaks: value, first sample at it (t_us, T0+s), samples at it")
    for col in ("fin_wait_1", "fin_wait_2", "time_wait", "close_wait", "last_ack", "closing",
                "orphan", "orphan_ss", "tw"):
        v = [int(r[col]) for r in truth]
        i = v.index(max(v))
        print(f"  {col:10} {max(v):5}  {truth[i]['t_us']} (T0+{rel(int(truth[i]['t_us'])):.2f})  {v.count(max(v))}")
    diff = [(round(rel(int(r["t_us"])), 2), r["orphan"], r["orphan_ss"]) for r in truth if r["orphan"] != r["orphan_ss"]]
    print(f"  orphan != orphan_ss in {len(diff)} samples: {diff}")
    tw_ne = sum(1 for r in truth if int(r["tw"]) != int(r["time_wait"]) + int(r["fin_wait_2"]))
    print(f"  tw != time_wait + fin_wait_2 in {tw_ne} samples;"
          f" fin_wait_2_tw != fin_wait_2 in {sum(1 for r in truth if r['fin_wait_2'] != r['fin_wait_2_tw'])}")
    last_tw = max(int(r["t_us"]) for r in truth if int(r["time_wait"]) > 0)
    print(f"  abort_on_timeout {truth[0]['abort_on_timeout']} -> {truth[-1]['abort_on_timeout']},"
          f" abort_on_memory {truth[0]['abort_on_memory']} -> {truth[-1]['abort_on_memory']};"
          f" TIME-WAIT last seen T0+{rel(last_tw):.2f}; {len(truth)} samples,"
          f" T0{rel(int(truth[0]['t_us'])):+.2f} to T0+{rel(int(truth[-1]['t_us'])):.2f} s;"
          f" ss dump {spread([int(r['sample_us']) for r in truth], 1e3, '{:.0f}')} ms")


if __name__ == "__main__":
    main()
