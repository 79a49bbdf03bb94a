#!/usr/bin/env bash
# Makes one run of the kernel "pairs": the incident's load (a proxy closing
# many short upstream connections, some "CDN" peers that do not ACK its FINs
# for ~13 s) under one setting, with the client namespace's socket states and
# abort counters sampled every 0.5 s. Runs with the same SEED have the same
# schedule, so any two of them form a pair (README.md beside this file).
#
# Run as root:   sudo RUN=max_orphans_1024 SEED=11 bash testdata/kernel/pairs/make.sh
#                (about 2 minutes; writes testdata/kernel/pairs/$NAME/)
#
# RUN picks the setting (one at a time; everything else default):
#   unlimited            defaults (tcp_max_orphans as found on the host; it is raised
#                        to 131072 for the run when it is lower)
#   max_orphans_N        host-wide net.ipv4.tcp_max_orphans=N during the run (the
#                        sysctl is global, not per namespace: the old value is
#                        restored at exit, whatever happens)
#   orphan_retries_N     net.ipv4.tcp_orphan_retries=N in the client namespace
#   max_tw_buckets_N     net.ipv4.tcp_max_tw_buckets=N in the client namespace
#   fin_timeout_N        net.ipv4.tcp_fin_timeout=N in the client namespace
# NAME (default: RUN) is the output folder under testdata/kernel/pairs/.
# SEED (default 11) drives the schedule (Poisson arrivals, peer choice).
#
# Needs: ip (iproute2), ss, nstat, tcpdump, nft, zstd, python3 (stdlib only).
# Traffic never leaves the two namespaces it creates (fsp-cli, fsp-srv), joined
# only by a veth pair with addresses 10.77.0.0/24. Both are deleted at exit.
# Independent of ../make.sh (other namespace and link names).
#
# For other generators (../host/make.sh), all optional, defaults as above:
#   CLI, SRV, VETH   namespace names and the veth prefix ($VETH-cli/$VETH-srv)
#   OUT              output folder
#   TRAFFIC_S        the load stops this many seconds after T0 (default 30)
#   STOP_S           sampling stops this many seconds after T0 (default 160)
#   KIT_HOOK         a bash file sourced before T0; it may define kit_start
#                    (called before traffic) and kit_stop (after sampling)
#
# The load (times after T0, the start of traffic; Poisson arrivals per class):
#   10.77.0.10, .11:8080  "CDN": the first 7 FIN copies of every connection
#                         dropped (nft ct mark counter, server namespace): the
#                         8th copy, ~13.4 s after the first, is ACKed. 170/s
#                         for 24 s. The server gives up waiting for EOF after
#                         20 s and closes (a killed orphan answers with RST).
#   10.77.0.12:8080       first 6 copies dropped (~6.7 s). 30/s for 24 s.
#   10.77.0.13:8080       first 3 copies dropped (~0.8 s). 20/s for 24 s.
#   10.77.0.2, .3:8080    fast. 40/s for 30 s.
#   10.77.0.5:8080        the server ACKs the FIN at once but closes 5 s
#                         later (client FIN-WAIT-2). 10/s for 30 s.
#   10.77.0.2:8081        server closes first; the client closes 1 s later
#                         (CLOSE-WAIT, then LAST-ACK). 1/s for 30 s.
#   10.77.0.2:8080 abort  client closes with unread data (RST, TCPAbortOnClose). 1/s.
#   10.77.0.2:8080 linger0  client closes with SO_LINGER {1, 0} (RST,
#                         TCPAbortOnData). 0.5/s.
#   10.77.0.2:8082        one heartbeat connection, a byte a second, never
#                         closed: keeps the capture going while TIME-WAIT drains.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CLI=${CLI:-fsp-cli}
SRV=${SRV:-fsp-srv}
VETH=${VETH:-vp}
TRAFFIC_S=${TRAFFIC_S:-30}
STOP_S=${STOP_S:-160}
RUN=${RUN:-unlimited}
NAME=${NAME:-$RUN}
SEED=${SEED:-11}
OUT=${OUT:-$HERE/$NAME}

NS_SYSCTL="" NS_VALUE="" HOST_MAX_ORPHANS=""
case "$RUN" in
unlimited) ;;
max_orphans_[0-9]*) HOST_MAX_ORPHANS=${RUN#max_orphans_} ;;
orphan_retries_[0-9]*) NS_SYSCTL=tcp_orphan_retries NS_VALUE=${RUN#orphan_retries_} ;;
max_tw_buckets_[0-9]*) NS_SYSCTL=tcp_max_tw_buckets NS_VALUE=${RUN#max_tw_buckets_} ;;
fin_timeout_[0-9]*) NS_SYSCTL=tcp_fin_timeout NS_VALUE=${RUN#fin_timeout_} ;;
*)
    echo "make.sh: unknown RUN=$RUN" >&2
    exit 1
    ;;
esac

if [[ $(id -u) -ne 0 ]]; then
    echo "make.sh: must run as root (ip netns, tcpdump, nft, sysctl)" >&2
    exit 1
fi
for tool in ip ss nstat tcpdump nft zstd python3 dmesg; do
    command -v "$tool" >/dev/null || { echo "make.sh: needs $tool" >&2; exit 1; }
done

WORK="$(mktemp -d /tmp/finscope-pairs.XXXXXX)"
PIDS=()
OLD_MAX_ORPHANS=$(cat /proc/sys/net/ipv4/tcp_max_orphans)
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    echo "$OLD_MAX_ORPHANS" >/proc/sys/net/ipv4/tcp_max_orphans
    ip netns del "$CLI" 2>/dev/null
    ip netns del "$SRV" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ip netns del "$CLI" 2>/dev/null || true
ip netns del "$SRV" 2>/dev/null || true

# ---------------------------------------------------------------- network
ip netns add "$CLI"
ip netns add "$SRV"
ip link add $VETH-cli netns "$CLI" type veth peer name $VETH-srv netns "$SRV"
ip -n "$CLI" link set lo up
ip -n "$SRV" link set lo up
ip -n "$CLI" addr add 10.77.0.1/24 dev $VETH-cli
for a in 2 3 5 10 11 12 13; do ip -n "$SRV" addr add "10.77.0.$a/24" dev $VETH-srv; done
ip -n "$CLI" link set $VETH-cli up
ip -n "$SRV" link set $VETH-srv up

# FIN drops in the server namespace's input hook (the capture on the client's
# veth shows every copy leaving). ct mark counts the copies already dropped.
drop_rules() { # host copies
    local m
    for ((m = 0; m < $2; m++)); do
        echo "ip daddr $1 tcp dport 8080 tcp flags & fin == fin ct mark $m ct mark set $((m + 1)) drop"
    done
}
ip netns exec "$SRV" nft -f - <<EOF
table inet finscope {
    chain input {
        type filter hook input priority 0; policy accept;
$(drop_rules "{ 10.77.0.10, 10.77.0.11 }" 7)
$(drop_rules 10.77.0.12 6)
$(drop_rules 10.77.0.13 3)
    }
}
EOF

# ---------------------------------------------------------------- programs
cat >"$WORK/server.py" <<'EOF'
# Accepts, reads "GET <n>", answers n bytes, waits for the client's FIN (EOF),
# then closes. Port 8081 closes right after answering; 10.77.0.5 waits 5 s
# after EOF; the CDN hosts (.10-.13) stop waiting for EOF after 20 s; port
# 8082 only reads (heartbeat).
# The server must never hold an orphan: tcp_max_orphans and the orphan count
# are host-wide, so under the limit a server socket close()d in LAST-ACK or
# FIN-WAIT-1 would be reset too (and its RST would kill the client's TIME-WAIT
# entry). So it sends its FIN with shutdown(SHUT_WR) while it still holds the
# socket, waits for the client's ACK (or RST, or the client's FIN when the
# server closed first), and only then close()s a socket already in CLOSE or
# TIME-WAIT: no orphan. On the wire this is the same as a close().
import asyncio, socket

TCP_CLOSE = 7

def tcp_state(writer):
    sock = writer.get_extra_info("socket")
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    except OSError:
        return TCP_CLOSE

async def finish(reader, writer, wait_peer_fin=False):
    """FIN without orphaning, then close() once the kernel is done."""
    try:
        writer.write_eof()
        if wait_peer_fin:           # server closed first: FIN-WAIT-2 until the client's FIN
            while await asyncio.wait_for(reader.read(4096), 30.0):
                pass
        for _ in range(300):        # LAST-ACK / FIN-WAIT-1 until ACKed or reset (<= 30 s)
            if tcp_state(writer) in (TCP_CLOSE, 6):     # 6: TIME-WAIT never shows on a full socket
                break
            await asyncio.sleep(0.1)
    except (ConnectionError, OSError, asyncio.TimeoutError):
        pass
    writer.close()

HOSTS = ["10.77.0.2", "10.77.0.3", "10.77.0.5", "10.77.0.10", "10.77.0.11", "10.77.0.12",
         "10.77.0.13"]
ADDRS = [(h, 8080) for h in HOSTS] + [("10.77.0.2", 8081), ("10.77.0.2", 8082)]
EOF_TIMEOUT = {(h, 8080): 20.0 for h in HOSTS if h.startswith("10.77.0.1")}

async def handle(reader, writer):
    local = writer.get_extra_info("sockname")
    try:
        if local[1] == 8082:
            while await reader.read(4096):
                pass
            writer.close()
            return
        line = await reader.readline()
        n = int(line.split()[1])
        writer.write(b"x" * n)
        await writer.drain()
        if local[1] == 8081:
            await finish(reader, writer, wait_peer_fin=True)
            return
        try:
            while await asyncio.wait_for(reader.read(4096), EOF_TIMEOUT.get(local[:2])):
                pass
        except asyncio.TimeoutError:
            pass
        if local[0] == "10.77.0.5":
            await asyncio.sleep(5.0)
        await finish(reader, writer)
        return
    except (ConnectionError, ValueError, IndexError, asyncio.TimeoutError):
        pass
    writer.close()

async def main():
    servers = [await asyncio.start_server(handle, h, p, backlog=4096, reuse_address=True)
               for h, p in ADDRS]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))

asyncio.run(main())
EOF

cat >"$WORK/client.py" <<'EOF'
# Opens the scheduled connections; writes connections.csv with the
# application-side times (connect() start, close() call) in us since epoch.
# The schedule depends only on SEED.
import asyncio, random, socket, struct, sys, time

T0 = float(sys.argv[1]); OUT = sys.argv[2]; SEED = int(sys.argv[3]); LAG = sys.argv[4]
END = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
rng = random.Random(SEED)
N, S, A, L = "normal", "server_first", "abort", "linger0"
# (kind, hosts (chosen uniformly), port, rate per s, from, to)
CLASSES = [
    (N, ["10.77.0.10", "10.77.0.11"], 8080, 170.0, 0.0, 24.0),
    (N, ["10.77.0.12"], 8080, 30.0, 0.0, 24.0),
    (N, ["10.77.0.13"], 8080, 20.0, 0.0, 24.0),
    (N, ["10.77.0.2", "10.77.0.3"], 8080, 40.0, 0.0, 30.0),
    (N, ["10.77.0.5"], 8080, 10.0, 0.0, 30.0),
    (S, ["10.77.0.2"], 8081, 1.0, 0.0, 30.0),
    (A, ["10.77.0.2"], 8080, 1.0, 0.0, 30.0),
    (L, ["10.77.0.2"], 8080, 0.5, 0.0, 30.0),
]
plan = []
for kind, hosts, port, rate, t_from, t_to in CLASSES:
    t_to = min(t_to, END)
    t = t_from + rng.expovariate(rate)
    while t < t_to:
        plan.append((t, kind, rng.choice(hosts), port))
        t += rng.expovariate(rate)
plan.sort()

rows = []
lags = []

async def one(t_rel, kind, host, port):
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, T0 + t_rel - time.time()))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    t_conn = time.time()
    lags.append(t_conn - T0 - t_rel)
    err = ""
    lport = 0
    try:
        await loop.sock_connect(s, (host, port))
        lport = s.getsockname()[1]
        n = 4000 if kind == A else 300
        await loop.sock_sendall(s, b"GET %d\n" % n)
        got = 0
        want = 100 if kind == A else n
        while got < want:
            d = await loop.sock_recv(s, want - got)
            if not d:
                break
            got += len(d)
        if kind == A:
            await asyncio.sleep(0.05)   # the rest arrives unread -> RST on close
        if kind == S:
            while await loop.sock_recv(s, 4096):
                pass
            await asyncio.sleep(1.0)    # CLOSE-WAIT for 1 s
        if kind == L:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError as e:
        try:
            lport = s.getsockname()[1]
        except OSError:
            pass
        err = type(e).__name__
    t_close = time.time()
    s.close()
    rows.append((int(t_conn * 1e6), int(t_close * 1e6), lport, host, port, kind, err))

async def main():
    await asyncio.gather(*(one(*p) for p in plan))

asyncio.run(main())
rows.sort()
with open(OUT, "w") as f:
    f.write("t_connect_us,t_close_us,local_port,remote,remote_port,kind,error\n")
    for r in rows:
        f.write(",".join(map(str, r)) + "\n")
lags.sort()
with open(LAG, "w") as f:
    f.write(f"client_connections={len(rows)}\n")
    f.write(f"client_errors={sum(1 for r in rows if r[6])}\n")
    f.write(f"client_connect_lag_ms_p50={lags[len(lags) // 2] * 1e3:.1f}\n")
    f.write(f"client_connect_lag_ms_p99={lags[len(lags) * 99 // 100] * 1e3:.1f}\n")
    f.write(f"client_connect_lag_ms_max={lags[-1] * 1e3:.1f}\n")
print(f"client: {len(rows)} connections, {sum(1 for r in rows if r[6])} errors, "
      f"connect lag max {lags[-1] * 1e3:.1f} ms", flush=True)
EOF

cat >"$WORK/heartbeat.py" <<'EOF'
import socket, time
s = socket.create_connection(("10.77.0.2", 8082))
while True:
    s.send(b".")
    time.sleep(1.0)
EOF

cat >"$WORK/sampler.py" <<'EOF'
# Every 0.5 s (on the wall clock's 0.5 s grid): one `ss -tanoH` dump of the
# namespace, then /proc/net/sockstat, then the namespace's TcpExt counters
# from /proc/net/netstat (what `nstat -az` prints as TcpExt*). t_us = midpoint
# of the dump. Stops at STOP (epoch s), or once nothing is left after QUIET_AFTER.
import subprocess, sys, time

OUT, STOP, QUIET_AFTER = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
STATES = {"FIN-WAIT-1": "fin_wait_1", "FIN-WAIT-2": "fin_wait_2", "TIME-WAIT": "time_wait",
          "CLOSE-WAIT": "close_wait", "LAST-ACK": "last_ack", "CLOSING": "closing"}
ORPHAN_STATES = {"FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "LAST-ACK"}
COLS = ["fin_wait_1", "fin_wait_2", "time_wait", "close_wait", "last_ack", "closing"]
NETSTAT = {"abort_on_memory": "TCPAbortOnMemory", "abort_on_timeout": "TCPAbortOnTimeout",
           "abort_on_data": "TCPAbortOnData", "abort_on_close": "TCPAbortOnClose",
           "abort_on_linger": "TCPAbortOnLinger", "tw_overflow": "TCPTimeWaitOverflow"}

def sample():
    t1 = time.time()
    out = subprocess.run(["ss", "-tanoH"], capture_output=True, text=True, check=True).stdout
    t2 = time.time()
    with open("/proc/net/sockstat") as f:
        tcp = next(l for l in f if l.startswith("TCP:")).split()
    kv = dict(zip(tcp[1::2], map(int, tcp[2::2])))
    with open("/proc/net/netstat") as f:
        ext = [l.split() for l in f if l.startswith("TcpExt:")]
    kv.update(zip(ext[0][1:], map(int, ext[1][1:])))
    c = dict.fromkeys(COLS, 0)
    full_orphan = tw_fw2 = estab = 0
    for line in out.splitlines():
        st = line.split(None, 1)[0]
        if st in STATES:
            c[STATES[st]] += 1
        elif st == "ESTAB":
            estab += 1
        timewait = "timer:(timewait" in line
        if st in ORPHAN_STATES and not timewait:
            full_orphan += 1
        if st == "FIN-WAIT-2" and timewait:
            tw_fw2 += 1
    return (int((t1 + t2) / 2 * 1e6), c, kv["orphan"], kv["tw"], full_orphan, tw_fw2, estab,
            int((t2 - t1) * 1e6), [kv[k] for k in NETSTAT.values()])

with open(OUT, "w") as f:
    f.write("t_us," + ",".join(COLS) + ",orphan,tw,orphan_ss,fin_wait_2_tw,established,sample_us," +
            ",".join(NETSTAT) + "\n")
    quiet_since = None
    while True:
        now = time.time()
        time.sleep((int(now * 2) + 1) / 2 - now)
        t, c, orphan, tw, full_orphan, tw_fw2, estab, dur, ext = sample()
        f.write(f"{t}," + ",".join(str(c[k]) for k in COLS) +
                f",{orphan},{tw},{full_orphan},{tw_fw2},{estab},{dur}," +
                ",".join(map(str, ext)) + "\n")
        f.flush()
        busy = sum(c.values()) + full_orphan + tw
        if time.time() > QUIET_AFTER:
            quiet_since = None if busy else (quiet_since or t)
            if quiet_since and t - quiet_since >= 3e6:
                break
        if time.time() > STOP:
            break
EOF

cat >"$WORK/dmesg.py" <<'EOF'
# Kernel log lines after a mark (seconds since boot, as dmesg prints them):
# prints the TCP / net_ratelimit lines after it and key=value counts.
import re, subprocess, sys
mark = float(sys.argv[1])
out = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
new = []
for line in out.splitlines():
    m = re.match(r"\[\s*(\d+\.\d+)\]", line)
    if m and float(m.group(1)) > mark:
        new.append(line)
with open(sys.argv[2], "w") as f:
    for line in new:
        if "TCP" in line or "net_ratelimit" in line or "socket" in line:
            f.write(line + "\n")
count = lambda s: sum(1 for l in new if s in l)
supp = sum(int(m.group(1)) for l in new for m in [re.search(r"net_ratelimit: (\d+) callbacks suppressed", l)] if m)
print(f"dmesg_too_many_orphaned_sockets={count('too many orphaned sockets')}")
print(f"dmesg_time_wait_bucket_table_overflow={count('time wait bucket table overflow')}")
print(f"dmesg_out_of_memory_tcp_mem={count('out of memory -- consider tuning tcp_mem')}")
print(f"dmesg_net_ratelimit_lines={count('net_ratelimit:')}")
print(f"dmesg_net_ratelimit_suppressed={supp}")
EOF

# ---------------------------------------------------------------- settings
# Raise the per-namespace file limit: the CDN servers hold thousands of sockets.
ulimit -n "$(ulimit -Hn)"
if [[ -n $HOST_MAX_ORPHANS ]]; then
    echo "$HOST_MAX_ORPHANS" >/proc/sys/net/ipv4/tcp_max_orphans
elif ((OLD_MAX_ORPHANS < 131072)); then
    echo 131072 >/proc/sys/net/ipv4/tcp_max_orphans
fi
if [[ -n $NS_SYSCTL ]]; then
    ip netns exec "$CLI" sysctl -qw "net.ipv4.$NS_SYSCTL=$NS_VALUE"
    [[ $(ip netns exec "$CLI" cat "/proc/sys/net/ipv4/$NS_SYSCTL") == "$NS_VALUE" ]] ||
        { echo "make.sh: $NS_SYSCTL not set in $CLI" >&2; exit 1; }
fi
SYSCTLS="tcp_fin_timeout tcp_orphan_retries tcp_max_tw_buckets tcp_max_syn_backlog tcp_tw_reuse tcp_retries2 ip_local_port_range"
snap_sysctls() { # prefix
    for s in $SYSCTLS; do
        echo "${1}$s=$(ip netns exec "$CLI" cat /proc/sys/net/ipv4/$s | tr '\t' ' ')"
    done
    echo "${1}tcp_max_orphans=$(cat /proc/sys/net/ipv4/tcp_max_orphans)"
    echo "${1}tcp_mem=$(tr '\t' ' ' </proc/sys/net/ipv4/tcp_mem)"
}
echo "run $RUN (seed $SEED), kernel $(uname -r); client namespace:"
snap_sysctls "  " | tee "$WORK/sysctl.before"

DMESG_MARK=$(awk '{print $1}' /proc/uptime)

ip netns exec "$SRV" python3 "$WORK/server.py" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$WORK/server.log" && break; sleep 0.1; done
grep -q ready "$WORK/server.log" || { cat "$WORK/server.log"; exit 1; }

ip netns exec "$CLI" tcpdump -i $VETH-cli -n -s 96 -B 65536 -w "$WORK/capture.pcap" tcp >"$WORK/tcpdump.log" 2>&1 &
TCPDUMP=$!
PIDS+=($TCPDUMP)
for _ in $(seq 50); do grep -q "listening on" "$WORK/tcpdump.log" && break; sleep 0.1; done

ip netns exec "$CLI" python3 "$WORK/heartbeat.py" &
PIDS+=($!)

T0=$(python3 -c 'import time; print(f"{int(time.time()) + 3:.6f}")')
if [[ -n ${KIT_HOOK:-} ]]; then
    # shellcheck source=/dev/null
    source "$KIT_HOOK"
    if declare -F kit_start >/dev/null; then kit_start; fi
fi
ip netns exec "$CLI" python3 "$WORK/sampler.py" "$WORK/truth.csv" \
    "$(python3 -c "print($T0 + $STOP_S)")" "$(python3 -c "print($T0 + min(60, $STOP_S))")" &
SAMPLER=$!
PIDS+=($SAMPLER)

echo "T0=$T0: traffic for 30 s, then waiting for TIME-WAIT to drain (~70 s)"
ip netns exec "$CLI" python3 "$WORK/client.py" "$T0" "$WORK/connections.csv" "$SEED" "$WORK/lag.txt" "$TRAFFIC_S"
snap_sysctls "" >"$WORK/sysctl.during"
wait "$SAMPLER" || true
if declare -F kit_stop >/dev/null; then kit_stop; fi
sleep 0.5
kill -INT "$TCPDUMP"
wait "$TCPDUMP" || true
cat "$WORK/tcpdump.log"
python3 "$WORK/dmesg.py" "$DMESG_MARK" "$WORK/dmesg.txt" >"$WORK/dmesg.counts"

{
    echo "run=$RUN"
    echo "name=$NAME"
    echo "made_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel=$(uname -r)"
    echo "btime=$(awk '$1 == "btime" {print $2}' /proc/stat)"
    echo "t0_us=$(python3 -c "print(int($T0 * 1e6))")"
    echo "seed=$SEED"
    cat "$WORK/sysctl.during"
    echo "tcp_max_orphans_before_run=$OLD_MAX_ORPHANS"
    echo "tcp_orphan_retries_outside_ns=$(cat /proc/sys/net/ipv4/tcp_orphan_retries)"
    grep -E "packets (captured|received by filter|dropped by kernel)" "$WORK/tcpdump.log" |
        sed -E 's/^([0-9]+) (.*)$/tcpdump_\2=\1/; s/ /_/g'
    cat "$WORK/lag.txt"
    cat "$WORK/dmesg.counts"
    ip netns exec "$CLI" nstat -asz | awk '$1 ~ /^(TcpExtTCPAbortOn(Memory|Timeout|Data|Close|Linger)|TcpExtTCPTimeWaitOverflow|TcpExtTW|TcpExtTCPLossProbes|TcpExtTCPTimeouts|TcpRetransSegs|TcpOutRsts|TcpActiveOpens|TcpEstabResets|TcpAttemptFails)$/ { print "nstat_" $1 "=" $2 }'
} >"$WORK/meta.txt"

mkdir -p "$OUT"
zstd -q -19 -f "$WORK/capture.pcap" -o "$OUT/capture.pcap.zst"
cp "$WORK/truth.csv" "$WORK/connections.csv" "$WORK/meta.txt" "$WORK/dmesg.txt" "$OUT/"
chown root:root "$OUT"/*
chmod 644 "$OUT"/*
echo "wrote $OUT"
ls -l "$OUT"
cat "$OUT/meta.txt"
