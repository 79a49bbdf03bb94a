#!/usr/bin/env bash
# Regenerates testdata/kernel/{capture.pcap,truth.csv,connections.csv,meta.txt}:
# real Linux TCP teardown between two network namespaces, with the client
# namespace's socket states sampled every 0.5 s as ground truth.
#
# Run as root:   sudo bash testdata/kernel/make.sh      (about 2.5 minutes)
#
# SCENARIO selects what is made (default: "default"):
#   default          the capture described below; writes testdata/kernel/
#   orphan_retries   client namespace with net.ipv4.tcp_orphan_retries=2 and
#                    ~2,700 connections, black-holed FINs get the orphans
#                    killed; writes testdata/kernel/orphan_retries/
#                    (scenario: orphan_retries/README.md)
#   e.g.  sudo SCENARIO=orphan_retries bash testdata/kernel/make.sh
#
# Needs: ip (iproute2, with netns and veth), ss, tcpdump, python3 (stdlib only),
# nft (nftables; installed with apt-get when missing), a kernel with nf_tables
# and nf_conntrack. No netem qdisc is used.
#
# Traffic never leaves the two namespaces it creates (fs-cli, fs-srv), which
# are joined only by a veth pair with addresses 10.77.0.0/24; nothing is
# routed anywhere else. Both namespaces are deleted at exit.
#
# Default scenario (times relative to T0, the start of traffic; details in
# README.md):
#   client 10.77.0.1 opens ~480 short connections over 45 s: a burst of 60
#   every 10 s (t = 0, 10, 20, 30, 40) plus one connection every 0.25 s.
#   The client always reads the whole answer and close()s first (the socket
#   becomes an orphan), except "server_first" (server closes first; client
#   waits 1 s in CLOSE-WAIT, then closes -> LAST-ACK) and "abort" (client
#   closes with unread data -> RST).
#   10.77.0.2:8080  fast peer
#   10.77.0.2:8081  server closes first; the client's first 3 FINs are dropped
#                   (client sits in LAST-ACK ~1.4 s)
#   10.77.0.3:8080  every FIN to it is dropped from T0+5 s to T0+21 s
#   10.77.0.4:8080  "distant" peer: client route rto_min 1000ms, the first 2
#                   FINs of every connection are dropped (nft ct mark)
#   10.77.0.5:8080  server waits 5 s after the client's FIN before closing
#                   (client sits in FIN-WAIT-2)
#   10.77.0.2:8082  one heartbeat connection, a byte every second from before
#                   T0 to the end, never closed: keeps the capture going while
#                   TIME-WAIT drains
#
# orphan_retries scenario: the same peers, plus
#   10.77.0.3:8080  every FIN to it dropped from T0+9.5 s to T0+28 s; its
#                   server closes by itself when it has seen no EOF 9 s after
#                   answering (the client, whose orphan was killed, answers
#                   that FIN with a RST)
#   10.77.0.6:8080  same FIN drops as 10.77.0.3, but its server waits for EOF
#                   forever: killed orphans that leave no trace
#   10.77.0.2:8081  every FIN of the client dropped: LAST-ACK orphans killed
#   10.77.0.4:8084  rto_min 1000ms route, every FIN dropped (a small group;
#                   server closes after 9 s like 10.77.0.3)
#   and a client plan of 8 bursts of 200 every 5 s (the one at T0+20 with 300
#   more connections to the black holes, over 1 s) plus 20 connections a
#   second, for 40 s.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CLI=fs-cli
SRV=fs-srv
SEED=${SEED:-7}
SCENARIO=${SCENARIO:-default}

# What differs between scenarios (the rest is shared): output folder, server
# addresses, the window in which every FIN to some hosts is dropped (seconds
# after T0), whether truth.csv gets the client namespace's abort counters.
case "$SCENARIO" in
default)
    OUT="$HERE"
    SRV_HOSTS="2 3 4 5"
    DROP_DADDR="10.77.0.3"
    DROP_KEY="drop_fin_10.77.0.3"
    DROP_FROM=5 DROP_TO=21
    SAMPLER_OPTS=()
    ;;
orphan_retries)
    OUT="$HERE/orphan_retries"
    SRV_HOSTS="2 3 4 5 6"
    DROP_DADDR="{ 10.77.0.3, 10.77.0.6 }"
    DROP_KEY="drop_fin_10.77.0.3_10.77.0.6"
    DROP_FROM=9.5 DROP_TO=28
    SAMPLER_OPTS=(netstat)
    ;;
*)
    echo "make.sh: unknown SCENARIO=$SCENARIO (default, orphan_retries)" >&2
    exit 1
    ;;
esac

if [[ $(id -u) -ne 0 ]]; then
    echo "make.sh: must run as root (ip netns, tcpdump, nft)" >&2
    exit 1
fi
for tool in ip ss tcpdump python3; do
    command -v "$tool" >/dev/null || { echo "make.sh: needs $tool" >&2; exit 1; }
done
if ! command -v nft >/dev/null; then
    echo "make.sh: installing nftables" >&2
    apt-get update -qq && apt-get install -y -qq nftables >/dev/null
fi

WORK="$(mktemp -d /tmp/finscope-kernel.XXXXXX)"
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
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
ip link add veth-cli netns "$CLI" type veth peer name veth-srv netns "$SRV"
ip -n "$CLI" link set lo up
ip -n "$SRV" link set lo up
ip -n "$CLI" addr add 10.77.0.1/24 dev veth-cli
for a in $SRV_HOSTS; do ip -n "$SRV" addr add "10.77.0.$a/24" dev veth-srv; done
ip -n "$CLI" link set veth-cli up
ip -n "$SRV" link set veth-srv up
# A distant peer: retransmission timeout at least 1 s on the route to it.
ip -n "$CLI" route add 10.77.0.4/32 dev veth-cli rto_min 1000ms

# FIN drops, in the server namespace (input hook: the capture on the client's
# veth still shows every FIN leaving). ct mark counts FINs already dropped.
fin_drop_rules() {
    cat <<'EOF'
ip daddr 10.77.0.4 tcp dport 8080 tcp flags & fin == fin ct mark 0 ct mark set 1 drop
ip daddr 10.77.0.4 tcp dport 8080 tcp flags & fin == fin ct mark 1 ct mark set 3 drop
EOF
    case "$SCENARIO" in
    default) cat <<'EOF'
ip daddr 10.77.0.2 tcp dport 8081 tcp flags & fin == fin ct mark 0 ct mark set 1 drop
ip daddr 10.77.0.2 tcp dport 8081 tcp flags & fin == fin ct mark 1 ct mark set 3 drop
ip daddr 10.77.0.2 tcp dport 8081 tcp flags & fin == fin ct mark 3 ct mark set 7 drop
EOF
    ;;
    orphan_retries) cat <<'EOF'
ip daddr 10.77.0.2 tcp dport 8081 tcp flags & fin == fin drop
ip daddr 10.77.0.4 tcp dport 8084 tcp flags & fin == fin drop
EOF
    ;;
    esac
}
ip netns exec "$SRV" nft -f - <<EOF
table inet finscope {
    chain input {
        type filter hook input priority 0; policy accept;
$(fin_drop_rules)
    }
    chain slowpeer {
    }
}
EOF
ip netns exec "$SRV" nft add rule inet finscope input jump slowpeer

# ---------------------------------------------------------------- programs
cat >"$WORK/server.py" <<'EOF'
# Accepts, reads one request line "GET <n>", answers n bytes, then waits for
# the client's FIN (EOF) before closing: the client closes first. Port 8081
# closes right after answering (server closes first). 10.77.0.5 waits 5 s
# after EOF before closing. Port 8082 only reads (heartbeat).
# orphan_retries: also 10.77.0.6:8080 (like 10.77.0.2:8080) and 10.77.0.4:8084;
# 10.77.0.3:8080 and 10.77.0.4:8084 stop waiting for EOF after 9 s and close.
import asyncio, socket, sys

SCENARIO = sys.argv[1]
ADDRS = [("10.77.0.2", 8080), ("10.77.0.2", 8081), ("10.77.0.2", 8082), ("10.77.0.3", 8080),
         ("10.77.0.4", 8080), ("10.77.0.5", 8080)]
EOF_TIMEOUT = {}                        # (addr, port) -> s to wait for EOF (else forever)
if SCENARIO == "orphan_retries":
    ADDRS += [("10.77.0.6", 8080), ("10.77.0.4", 8084)]
    EOF_TIMEOUT = {("10.77.0.3", 8080): 9.0, ("10.77.0.4", 8084): 9.0}

async def handle(reader, writer):
    local = writer.get_extra_info("sockname")
    try:
        if local[1] == 8082:            # heartbeat: read until EOF
            while await reader.read(4096):
                pass
            writer.close()
            return
        line = await reader.readline()
        n = int(line.split()[1])
        writer.write(b"x" * n)
        await writer.drain()
        if local[1] == 8081:
            writer.close()
            return
        timeout = EOF_TIMEOUT.get(local[:2])
        while await asyncio.wait_for(reader.read(4096), timeout):
            pass
        if local[0] == "10.77.0.5":
            await asyncio.sleep(5.0)
    except (ConnectionError, ValueError, IndexError, asyncio.TimeoutError):
        pass
    writer.close()

async def main():
    servers = [await asyncio.start_server(handle, h, p, backlog=512, reuse_address=True)
               for h, p in ADDRS]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))

asyncio.run(main())
EOF

cat >"$WORK/client.py" <<'EOF'
# Opens the scheduled connections; writes connections.csv with the
# application-side times (connect() start, close() call) in us since epoch.
import asyncio, random, socket, sys, time

T0 = float(sys.argv[1]); OUT = sys.argv[2]; SEED = int(sys.argv[3]); SCENARIO = sys.argv[4]
rng = random.Random(SEED)

N, S, A = "normal", "server_first", "abort"

def make_plan(burst, bursts, every, trickle, count, period, extra=None):
    """(t_rel, kind, host, port) for `bursts` shuffled bursts (each spread over
    0.5 s, or 1 s when extra[b] adds connections to it) `every` s apart, plus
    `count` trickle connections `period` s apart cycling through `trickle`."""
    plan = []
    for b in range(bursts):
        mix = burst + (extra or {}).get(b, [])
        rng.shuffle(mix)
        span = 1.0 if (extra or {}).get(b) else 0.5
        for i, m in enumerate(mix):
            plan.append((b * every + i * span / len(mix),) + m)
    for k in range(count):
        plan.append((period / 2 + k * period, N, trickle[k % len(trickle)], 8080))
    return sorted(plan)

if SCENARIO == "orphan_retries":
    burst = ([(N, "10.77.0.2", 8080)] * 80 + [(N, "10.77.0.3", 8080)] * 40 +
             [(N, "10.77.0.6", 8080)] * 30 + [(N, "10.77.0.4", 8080)] * 15 +
             [(N, "10.77.0.5", 8080)] * 15 + [(S, "10.77.0.2", 8081)] * 12 +
             [(N, "10.77.0.4", 8084)] * 4 + [(A, "10.77.0.2", 8080)] * 4)
    storm = [(N, "10.77.0.3", 8080)] * 180 + [(N, "10.77.0.6", 8080)] * 120
    trickle = ["10.77.0.2", "10.77.0.3", "10.77.0.2", "10.77.0.6",
               "10.77.0.2", "10.77.0.5", "10.77.0.2", "10.77.0.4"]
    plan = make_plan(burst, 8, 5.0, trickle, 800, 0.05, extra={4: storm})
else:
    burst = ([(N, "10.77.0.2", 8080)] * 24 + [(N, "10.77.0.3", 8080)] * 16 +
             [(N, "10.77.0.4", 8080)] * 8 + [(N, "10.77.0.5", 8080)] * 6 +
             [(S, "10.77.0.2", 8081)] * 4 + [(A, "10.77.0.2", 8080)] * 2)
    trickle = ["10.77.0.2", "10.77.0.3", "10.77.0.2", "10.77.0.4", "10.77.0.2", "10.77.0.5"]
    plan = make_plan(burst, 5, 10.0, trickle, 180, 0.25)

rows = []

async def one(t_rel, kind, host, port):
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, T0 + t_rel - time.time()))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    t_conn = time.time()
    err = ""
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
            await asyncio.sleep(0.05)   # let the rest arrive unread -> RST on close
        if kind == S:
            while await loop.sock_recv(s, 4096):
                pass
            await asyncio.sleep(1.0)   # CLOSE-WAIT for 1 s
    except OSError as e:
        try:
            lport = s.getsockname()[1]
        except OSError:
            lport = 0
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
print(f"client: {len(rows)} connections, {sum(1 for r in rows if r[6])} errors", flush=True)
EOF

cat >"$WORK/heartbeat.py" <<'EOF'
# One long-lived connection to 10.77.0.2:8082 that sends a byte every second,
# so the capture has packets until the end (TIME-WAIT drains silently:
# without it the capture would stop at the last teardown packet). Never
# closed: it is killed after tcpdump has stopped, so it stays ESTABLISHED.
import socket, time
s = socket.create_connection(("10.77.0.2", 8082))
while True:
    s.send(b".")
    time.sleep(1.0)
EOF

cat >"$WORK/sampler.py" <<'EOF'
# Every 0.5 s (on the wall clock's 0.5 s grid) counts the namespace's TCP
# sockets per state with one `ss -tanoH` dump, and reads /proc/net/sockstat.
# t_us = midpoint of the dump. Stops at STOP (epoch s) or when told to by
# the file STOPFILE appearing, once everything is drained. With a 5th
# argument "netstat", also the namespace's cumulative TcpExt counters of
# NETSTAT from /proc/net/netstat, read right after sockstat.
import os, subprocess, sys, time

OUT, STOP, QUIET_AFTER, STOPFILE = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
NETSTAT = ({"abort_on_timeout": "TCPAbortOnTimeout", "abort_on_memory": "TCPAbortOnMemory"}
           if sys.argv[5:] == ["netstat"] else {})
STATES = {"FIN-WAIT-1": "fin_wait_1", "FIN-WAIT-2": "fin_wait_2", "TIME-WAIT": "time_wait",
          "CLOSE-WAIT": "close_wait", "LAST-ACK": "last_ack", "CLOSING": "closing"}
ORPHAN_STATES = {"FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "LAST-ACK"}
COLS = ["fin_wait_1", "fin_wait_2", "time_wait", "close_wait", "last_ack", "closing"]

def sample():
    t1 = time.time()
    out = subprocess.run(["ss", "-tanoH"], capture_output=True, text=True, check=True).stdout
    t2 = time.time()
    with open("/proc/net/sockstat") as f:
        tcp = next(l for l in f if l.startswith("TCP:")).split()
    kv = dict(zip(tcp[1::2], map(int, tcp[2::2])))
    if NETSTAT:
        with open("/proc/net/netstat") as f:
            ext = [l.split() for l in f if l.startswith("TcpExt:")]
        kv.update(zip(ext[0][1:], map(int, ext[1][1:])))
    c = dict.fromkeys(COLS, 0)
    full_orphan = tw_fw2 = estab = 0
    for line in out.splitlines():
        f = line.split()
        st = f[0]
        if st in STATES:
            c[STATES[st]] += 1
        if st == "ESTAB":
            estab += 1
        timewait = "timer:(timewait" in line
        if st in ORPHAN_STATES and not timewait:
            full_orphan += 1
        if st == "FIN-WAIT-2" and timewait:
            tw_fw2 += 1
    return (int((t1 + t2) / 2 * 1e6), c, kv["orphan"], kv["tw"], full_orphan, tw_fw2, estab,
            int((t2 - t1) * 1e6), [kv[k] for k in NETSTAT.values()])

with open(OUT, "w") as f:
    f.write("t_us," + ",".join(COLS) + ",orphan,tw,orphan_ss,fin_wait_2_tw,established,sample_us" +
            "".join("," + k for k in NETSTAT) + "\n")
    quiet_since = None
    while True:
        now = time.time()
        time.sleep((int(now * 2) + 1) / 2 - now)
        t, c, orphan, tw, full_orphan, tw_fw2, estab, dur, ext = sample()
        f.write(f"{t}," + ",".join(str(c[k]) for k in COLS) +
                f",{orphan},{tw},{full_orphan},{tw_fw2},{estab},{dur}" +
                "".join(f",{v}" for v in ext) + "\n")
        f.flush()
        busy = sum(c.values()) + full_orphan + tw
        if time.time() > QUIET_AFTER:
            quiet_since = None if busy else (quiet_since or t)
            if quiet_since and t - quiet_since >= 3e6:
                break
        if time.time() > STOP or os.path.exists(STOPFILE):
            break
EOF

# ---------------------------------------------------------------- run
if [[ $SCENARIO == orphan_retries ]]; then
    # Per namespace: the host's own value must stay untouched.
    ip netns exec "$CLI" sysctl -qw net.ipv4.tcp_orphan_retries=2
    [[ $(ip netns exec "$CLI" cat /proc/sys/net/ipv4/tcp_orphan_retries) == 2 ]] ||
        { echo "make.sh: tcp_orphan_retries not set in $CLI" >&2; exit 1; }
    HOST_ORPHAN_RETRIES=$(cat /proc/sys/net/ipv4/tcp_orphan_retries)
    echo "tcp_orphan_retries: 2 in $CLI, $HOST_ORPHAN_RETRIES outside (per namespace)"
    ulimit -n "$(ulimit -Hn)"   # the black holes' server holds hundreds of sockets
fi
echo "kernel $(uname -r); sysctls (client ns):"
for s in tcp_fin_timeout tcp_orphan_retries tcp_max_tw_buckets; do
    echo "  $s=$(ip netns exec "$CLI" cat /proc/sys/net/ipv4/$s)"
done
echo "  tcp_max_orphans=$(cat /proc/sys/net/ipv4/tcp_max_orphans) (not per namespace)"

ip netns exec "$SRV" python3 "$WORK/server.py" "$SCENARIO" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$WORK/server.log" && break; sleep 0.1; done
grep -q ready "$WORK/server.log" || { cat "$WORK/server.log"; exit 1; }

ip netns exec "$CLI" tcpdump -i veth-cli -n -s 96 -w "$WORK/capture.pcap" tcp >"$WORK/tcpdump.log" 2>&1 &
TCPDUMP=$!
PIDS+=($TCPDUMP)
for _ in $(seq 50); do grep -q "listening on" "$WORK/tcpdump.log" && break; sleep 0.1; done

ip netns exec "$CLI" python3 "$WORK/heartbeat.py" &
PIDS+=($!)

T0=$(python3 -c 'import time; print(f"{int(time.time()) + 3:.6f}")')
# Sampler: from now until everything is drained (TIME-WAIT: 60 s after the
# last close), at most T0+150 s.
ip netns exec "$CLI" python3 "$WORK/sampler.py" "$WORK/truth.csv" \
    "$(python3 -c "print($T0 + 150)")" "$(python3 -c "print($T0 + 100)")" "$WORK/stop" \
    "${SAMPLER_OPTS[@]}" &
SAMPLER=$!
PIDS+=($SAMPLER)

sleep_until() { python3 -c "import time; time.sleep(max(0, $1 - time.time()))"; }
now_us() { python3 -c 'import time; print(int(time.time() * 1e6))'; }

# Slow peers: drop every FIN to DROP_DADDR from T0+DROP_FROM to T0+DROP_TO.
# default: 10.77.0.3 from T0+5 to T0+21 (the burst at T0+20 lands just before
# the end: one clear FIN-WAIT-1 / orphan peak). orphan_retries: 10.77.0.3 and
# 10.77.0.6 from T0+9.5 to T0+28 (FINs closed before ~T0+26.4 never get
# through before the kernel gives up).
(
    sleep_until "$T0 + $DROP_FROM"
    # shellcheck disable=SC2086  # DROP_DADDR may be an nft set: { a, b }
    ip netns exec "$SRV" nft add rule inet finscope slowpeer ip daddr $DROP_DADDR tcp flags '&' fin == fin drop
    echo "${DROP_KEY}_start_us=$(now_us)" >>"$WORK/meta.txt"
    sleep_until "$T0 + $DROP_TO"
    ip netns exec "$SRV" nft flush chain inet finscope slowpeer
    echo "${DROP_KEY}_end_us=$(now_us)" >>"$WORK/meta.txt"
) &
PIDS+=($!)

echo "T0=$T0: traffic for 40-45 s, then waiting for TIME-WAIT to drain (~70 s)"
ip netns exec "$CLI" python3 "$WORK/client.py" "$T0" "$WORK/connections.csv" "$SEED" "$SCENARIO"
wait "$SAMPLER" || true
sleep 0.5
kill -INT "$TCPDUMP"
wait "$TCPDUMP" || true
cat "$WORK/tcpdump.log"
ip netns exec "$SRV" nft list ruleset >"$WORK/nft.txt"

{
    [[ $SCENARIO == default ]] || echo "scenario=$SCENARIO"
    echo "made_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel=$(uname -r)"
    echo "t0_us=$(python3 -c "print(int($T0 * 1e6))")"
    echo "seed=$SEED"
    for s in tcp_fin_timeout tcp_orphan_retries tcp_max_tw_buckets; do
        echo "$s=$(ip netns exec "$CLI" cat /proc/sys/net/ipv4/$s)"
    done
    echo "tcp_max_orphans=$(cat /proc/sys/net/ipv4/tcp_max_orphans)"
    grep -E "packets (captured|received by filter|dropped by kernel)" "$WORK/tcpdump.log" |
        sed -E 's/^([0-9]+) (.*)$/tcpdump_\2=\1/; s/ /_/g'
    cat "$WORK/meta.txt"
    if [[ $SCENARIO == orphan_retries ]]; then
        echo "tcp_orphan_retries_outside_ns=$HOST_ORPHAN_RETRIES"
        # Client namespace's counters at the end (nstat: -a absolute, -s no history).
        ip netns exec "$CLI" nstat -asz | awk '$1 ~ /^(TcpExtTCPAbortOn(Timeout|Memory|Close|Data)|TcpExtTCPLossProbes|TcpExtTCPLossProbeRecovery|TcpExtTCPTimeouts|TcpRetransSegs|TcpOutRsts)$/ { print "nstat_" $1 "=" $2 }'
    fi
} >"$WORK/meta.final"

mkdir -p "$OUT"
cp "$WORK/capture.pcap" "$OUT/capture.pcap"
cp "$WORK/truth.csv" "$OUT/truth.csv"
cp "$WORK/connections.csv" "$OUT/connections.csv"
cp "$WORK/meta.final" "$OUT/meta.txt"
chmod 644 "$OUT"/capture.pcap "$OUT"/truth.csv "$OUT"/connections.csv "$OUT"/meta.txt
echo "wrote $OUT/{capture.pcap,truth.csv,connections.csv,meta.txt}"
ls -l "$OUT"
