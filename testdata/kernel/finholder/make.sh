#!/usr/bin/env bash
# Makes one real-kernel run of "who holds the FIN" (issue 25): a client (the
# "proxy", 10.79.0.1) opens many short connections to 12 peers behind one
# router namespace and close()s them; some peers (the truth: peers.csv) are
# impaired in one way, the others are not. The capture is taken on the
# client's veth, as the proxy's engineer would take it.
#
# Run as root, one run per lock hold (the kernel is shared):
#   flock /work/kernel-run.lock env RUN=fin_dropped SEED=1 bash testdata/kernel/finholder/make.sh
#   (30-60 s; writes testdata/kernel/finholder/$NAME/)
#
# RUN is the impairment of the impaired peers (peers.csv `kind`):
#   fin_dropped       the router drops the first FIN_K (5) copies of the
#                     client's FIN to them (nft ct mark counter, forward hook):
#                     data and ACKs pass, the 6th copy is ACKed by the peer ~3.3 s after the first.
#   path_loss         a delay/loss line on the router (TUN, delayer.py; no netem
#                     in this kernel), both directions, their packets only:
#                     random loss LOSS% (5) of every segment, delay DELAY_MS (10)
#                     with jitter JITTER_MS (5; 0 = none).
#   peer_zero_window  their servers have SO_RCVBUF=RCVBUF (2048) and do not read
#                     for STALL s (11): every client here uploads UPLOAD bytes
#                     (12000) and close()s at once, so the FIN waits behind
#                     unsent data (orphan in FIN-WAIT-1) while the peer
#                     advertises a zero window. ZW_RATE (20/s) per impaired peer.
#   middlebox_reply   the router drops the first MB_K (3) copies of the client's
#                     FIN to them and answers the next with a RST of its own
#                     (nft `reject with tcp reset`): TTL 64 at the client, the
#                     peers' own packets arrive with TTL 63 (one hop).
#   peer_slow         the router's TUN line delays every packet from them by
#                     200, 400, 600, 800 ms (by peer, in turn; SLOW_MS overrides):
#                     SYN-ACKs, data, ACKs and FIN ACKs alike.
# SEED (default 1) drives which peers are impaired (N_IMPAIRED, default 4, of
# 12) and the Poisson schedule; IMPAIRED="10.79.1.x ..." overrides the choice.
#   mixed             the impaired peers get the kinds above in turn (MIX_KINDS,
#                     in that order; e.g. N_IMPAIRED=10: two of each); only the
#                     zero-window peers get uploads, the others GET 300.
# NAME (default RUN) is the output folder. RATE (8/s per peer) for DURATION s (15).
#
# Network: namespaces fr-c (client 10.79.0.1/24) -- fr-r (router, 10.79.0.254
# and 10.79.1.254, ip_forward) -- fr-s (servers 10.79.1.10-21), veths
# fr-c0/fr-r0 and fr-r1/fr-s1, offloads off (the capture shows wire segments).
# Nothing leaves them; all are deleted at exit. No host-wide sysctl is changed;
# the run refuses to start if net.ipv4.tcp_max_orphans is not EXPECT_MAX_ORPHANS
# (131072, the value found when these runs were made).
#
# Files: capture.pcap.zst (tcpdump -s 96 on fr-c0, zstd -19), peers.csv (the
# truth: peer,kind,param), connections.csv (client: connect() and close() times
# per connection), truth.csv (client namespace every 0.5 s: ss per-state counts,
# /proc/net/sockstat orphan/tw, TcpExt counters), meta.txt.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
RUN=${RUN:-fin_dropped}
NAME=${NAME:-$RUN}
SEED=${SEED:-1}
N_PEERS=${N_PEERS:-12}
N_IMPAIRED=${N_IMPAIRED:-4}
RATE=${RATE:-8}
DURATION=${DURATION:-15}
FIN_K=${FIN_K:-5}
MB_K=${MB_K:-3}
LOSS=${LOSS:-5}
DELAY_MS=${DELAY_MS:-10}
JITTER_MS=${JITTER_MS:-5}
RCVBUF=${RCVBUF:-2048}
STALL=${STALL:-11}
UPLOAD=${UPLOAD:-12000}
ZW_RATE=${ZW_RATE:-20}
SLOW_MS=${SLOW_MS:-"200 400 600 800"}
MIX_KINDS=${MIX_KINDS:-"fin_dropped path_loss peer_zero_window middlebox_reply peer_slow"}
EXPECT_MAX_ORPHANS=${EXPECT_MAX_ORPHANS:-131072}
OUT="$HERE/$NAME"
C=fr-c R=fr-r S=fr-s

case "$RUN" in
fin_dropped | path_loss | peer_zero_window | middlebox_reply | peer_slow | mixed) ;;
*) echo "make.sh: unknown RUN=$RUN" >&2; exit 1 ;;
esac
[[ $(id -u) -eq 0 ]] || { echo "make.sh: must run as root" >&2; exit 1; }
for tool in ip ss tcpdump nft zstd python3 ethtool; do
    command -v "$tool" >/dev/null || { echo "make.sh: needs $tool" >&2; exit 1; }
done
MAXO=$(cat /proc/sys/net/ipv4/tcp_max_orphans)
[[ $MAXO == "$EXPECT_MAX_ORPHANS" ]] ||
    { echo "make.sh: tcp_max_orphans=$MAXO, expected $EXPECT_MAX_ORPHANS (another run changed it?)" >&2; exit 1; }

WORK="$(mktemp -d /tmp/finscope-finholder.XXXXXX)"
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    for n in $C $R $S; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
for n in $C $R $S; do ip netns del "$n" 2>/dev/null || true; done

# ---------------------------------------------------------------- peers
PEERS=""
for ((i = 0; i < N_PEERS; i++)); do PEERS+="10.79.1.$((10 + i)) "; done
if [[ -z ${IMPAIRED:-} ]]; then
    IMPAIRED=$(python3 -c "import random,sys; p=sys.argv[1].split(); print(' '.join(sorted(random.Random($SEED).sample(p, $N_IMPAIRED), key=lambda a: int(a.split('.')[3]))))" "$PEERS")
fi
read -r -a SLOW <<<"$SLOW_MS"
read -r -a MIX <<<"$MIX_KINDS"
declare -A KIND SLOW_OF
j=0 k=0
for p in $IMPAIRED; do
    if [[ $RUN == mixed ]]; then KIND[$p]=${MIX[$((j % ${#MIX[@]}))]}; else KIND[$p]=$RUN; fi
    if [[ ${KIND[$p]} == peer_slow ]]; then SLOW_OF[$p]=${SLOW[$((k % ${#SLOW[@]}))]}; k=$((k + 1)); fi
    j=$((j + 1))
done
peers_of() { # kind -> its impaired peers
    local p out=""
    for p in $IMPAIRED; do [[ ${KIND[$p]} == "$1" ]] && out+="$p "; done
    echo "${out% }"
}
{
    echo "peer,kind,param"
    for p in $PEERS; do
        if [[ " $IMPAIRED " == *" $p "* ]]; then
            case "${KIND[$p]}" in
            fin_dropped) param="first $FIN_K FIN copies dropped by the router" ;;
            path_loss) param="loss $LOSS% each way; delay ${DELAY_MS}ms jitter ${JITTER_MS}ms each way" ;;
            peer_zero_window) param="server SO_RCVBUF=$RCVBUF; no read for ${STALL}s; ${ZW_RATE}/s" ;;
            middlebox_reply) param="first $MB_K FIN copies dropped; router RST to the next (TTL 64 vs 63)" ;;
            peer_slow) param="delay ${SLOW_OF[$p]}ms peer->client" ;;
            esac
            echo "$p,${KIND[$p]},$param"
        else
            echo "$p,none,"
        fi
    done
} >"$WORK/peers.csv"
cat "$WORK/peers.csv"

# ---------------------------------------------------------------- network
for n in $C $R $S; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add fr-c0 netns $C type veth peer name fr-r0 netns $R
ip link add fr-r1 netns $R type veth peer name fr-s1 netns $S
ip -n $C addr add 10.79.0.1/24 dev fr-c0
ip -n $R addr add 10.79.0.254/24 dev fr-r0
ip -n $R addr add 10.79.1.254/24 dev fr-r1
for p in $PEERS; do ip -n $S addr add "$p/24" dev fr-s1; done
for pair in "$C fr-c0" "$R fr-r0" "$R fr-r1" "$S fr-s1"; do
    set -- $pair
    ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
    ip -n "$1" link set "$2" up
done
ip -n $C route add 10.79.1.0/24 via 10.79.0.254
ip -n $S route add default via 10.79.1.254
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1

# Per-peer delay and loss on the router (this kernel has no netem): policy
# routing sends the impaired peers' packets (peer -> client; for path_loss also
# client -> peer) into a TUN device, fr-t0, where delayer.py drops a packet
# with probability LOSS, holds the rest for their delay (uniform in
# delay +- jitter, so jitter reorders like netem's), gives back the TTL the
# second forwarding takes (so the peer still arrives with TTL 63; the IP
# checksum is fixed) and writes them back: the kernel then routes them on.
tun_peers() { # "peer:delay_ms:jitter_ms:loss_pct ..." (path_loss peers both ways, the rest peer -> client)
    ip netns exec $R sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    ip netns exec $R python3 "$WORK/delayer.py" fr-t0 "$1" "$SEED" >"$WORK/delayer.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 50); do grep -q ready "$WORK/delayer.log" && break; sleep 0.1; done
    grep -q ready "$WORK/delayer.log" || { cat "$WORK/delayer.log"; exit 1; }
    ip netns exec $R sysctl -qw net.ipv4.conf.fr-t0.rp_filter=0
    ip -n $R link set fr-t0 up
    ip -n $R route add default dev fr-t0 table 100
    for spec in $1; do
        local p=${spec%%:*}
        ip -n $R rule add iif fr-r1 from "$p" lookup 100
        if [[ ${KIND[$p]} == path_loss ]]; then ip -n $R rule add iif fr-r0 to "$p" lookup 100; fi
    done
    ip -n $R rule list >"$WORK/tc.txt"
}
TUN_SPEC=""
for p in $IMPAIRED; do
    case "${KIND[$p]}" in
    path_loss) TUN_SPEC+="$p:$DELAY_MS:$JITTER_MS:$LOSS " ;;
    peer_slow) TUN_SPEC+="$p:${SLOW_OF[$p]}:0:0 " ;;
    esac
done
fin_rules() { # "peers" copies final-verdict
    local m set="{ ${1// /, } }"
    shift
    for ((m = 0; m < $1; m++)); do
        echo "ip daddr $set tcp dport 8080 tcp flags & fin == fin ct mark $m ct mark set $((m + 1)) drop"
    done
    [[ -n $2 ]] && echo "ip daddr $set tcp dport 8080 tcp flags & fin == fin ct mark $1 ct mark set $(($1 + 1)) $2"
    return 0
}
cat >"$WORK/delayer.py" <<'EOF'
# TUN delay/loss line for the impaired peers (argv[2]: "peer:delay_ms:jitter_ms:loss_pct ...").
# A packet belongs to the peer that is its source or destination.
import asyncio, fcntl, os, random, struct, sys

name, spec, seed = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
rng = random.Random(seed * 7919 + 1)
PEER = {}
for s in spec:
    a, d, j, l = s.split(":")
    PEER[bytes(map(int, a.split(".")))] = (float(d) / 1e3, float(j) / 1e3, float(l) / 100)
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", name.encode(), 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN|IFF_NO_PI
os.set_blocking(fd, False)

def csum(h):
    s = sum(struct.unpack("!%dH" % (len(h) // 2), h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def write(pkt):
    try:
        os.write(fd, pkt)
    except OSError:
        pass

def readable():
    while True:
        try:
            pkt = bytearray(os.read(fd, 65536))
        except BlockingIOError:
            return
        if len(pkt) < 20 or pkt[0] >> 4 != 4:
            continue
        p = PEER.get(bytes(pkt[12:16])) or PEER.get(bytes(pkt[16:20]))
        if p is None:
            write(pkt)
            continue
        delay, jitter, loss = p
        if loss and rng.random() < loss:
            continue
        ihl = (pkt[0] & 15) * 4
        pkt[8] = min(255, pkt[8] + 1)      # the tun's extra forwarding hop, given back
        pkt[10:12] = b"\0\0"
        pkt[10:12] = struct.pack("!H", csum(bytes(pkt[:ihl])))
        d = delay + (rng.uniform(-jitter, jitter) if jitter else 0.0)
        loop.call_later(max(0.0, d), write, bytes(pkt))

loop = asyncio.new_event_loop()
loop.add_reader(fd, readable)
print("ready", flush=True)
loop.run_forever()
EOF
[[ -n $TUN_SPEC ]] && tun_peers "$TUN_SPEC"
RULES=""
FD=$(peers_of fin_dropped) MB=$(peers_of middlebox_reply)
[[ -n $FD ]] && RULES+="$(fin_rules "$FD" "$FIN_K" "")"$'\n'
[[ -n $MB ]] && RULES+="$(fin_rules "$MB" "$MB_K" "reject with tcp reset")"$'\n'
if [[ -n $RULES ]]; then
    ip netns exec $R nft -f - <<EOF
table inet finholder {
    chain forward {
        type filter hook forward priority 0; policy accept;
$RULES
    }
}
EOF
    echo -n "$RULES" >"$WORK/nft.txt"
fi
[[ -f $WORK/tc.txt ]] || ip -n $R rule list >"$WORK/tc.txt"

# ---------------------------------------------------------------- programs
cat >"$WORK/server.py" <<'EOF'
# One listener per peer address, port 8080, plain non-blocking sockets (asyncio
# streams would read ahead and keep the window open). "GET n": answer n bytes,
# wait for the client's FIN (EOF, at most 10 s), then FIN. "PUT n": read to EOF,
# then FIN. A stalled peer (argv[3]) has SO_RCVBUF=argv[4] on its listener and
# does not read for argv[5] s after accept. The server FINs with
# shutdown(SHUT_WR) and close()s only once the socket is CLOSE / TIME-WAIT:
# no server orphans (orphan counts are host-wide).
import asyncio, socket, sys, time

PEERS = sys.argv[1].split(); STALLED = set(sys.argv[2].split())
RCVBUF = int(sys.argv[3]); STALL = float(sys.argv[4])

def state(s):
    try:
        return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    except OSError:
        return 7

async def recv_to_eof(loop, s, timeout):
    while await asyncio.wait_for(loop.sock_recv(s, 65536), timeout):
        pass

async def handle(loop, s, local):
    try:
        if local in STALLED:
            await asyncio.sleep(STALL)
        buf = b""
        while b"\n" not in buf:
            d = await asyncio.wait_for(loop.sock_recv(s, 65536), 10.0)
            if not d:
                raise ConnectionError
            buf += d
        verb, n = buf.split(b"\n", 1)[0].split()
        if verb == b"GET":
            await loop.sock_sendall(s, b"x" * int(n))
        try:
            await recv_to_eof(loop, s, 10.0)
        except asyncio.TimeoutError:
            pass
        s.shutdown(socket.SHUT_WR)
        for _ in range(300):
            if state(s) in (7, 6):
                break
            await asyncio.sleep(0.1)
    except (OSError, ValueError, asyncio.TimeoutError, ConnectionError):
        pass
    s.close()

async def serve(loop, ls, local):
    while True:
        s, _ = await loop.sock_accept(ls)
        s.setblocking(False)
        loop.create_task(handle(loop, s, local))

async def main():
    loop = asyncio.get_running_loop()
    tasks = []
    for p in PEERS:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if p in STALLED:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        ls.bind((p, 8080)); ls.listen(4096); ls.setblocking(False)
        tasks.append(serve(loop, ls, p))
    print("ready", flush=True)
    await asyncio.gather(*tasks)

asyncio.run(main())
EOF

cat >"$WORK/client.py" <<'EOF'
# Opens the scheduled connections (Poisson per peer); "GET 300" and read the
# answer, or with UPLOAD > 0 "PUT n" + n bytes (SO_SNDBUF 256 KiB so the write
# never waits); then close(). Writes connections.csv: connect() start and the
# close() call in us since epoch.
import asyncio, random, socket, sys, time

T0 = float(sys.argv[1]); OUT = sys.argv[2]; SEED = int(sys.argv[3])
PEERS = sys.argv[4].split(); FAST = set(sys.argv[5].split()); RATE = float(sys.argv[6])
FAST_RATE = float(sys.argv[7]); DURATION = float(sys.argv[8]); UPLOAD = int(sys.argv[9])
UP_TO = None if sys.argv[10] == "all" else set(sys.argv[10].split())
rng = random.Random(SEED * 1000 + 7)
plan = []
for p in PEERS:
    r = FAST_RATE if p in FAST else RATE
    t = rng.expovariate(r)
    while t < DURATION:
        plan.append((t, p))
        t += rng.expovariate(r)
plan.sort()
rows = []

async def one(t_rel, host):
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, T0 + t_rel - time.time()))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 262144)
    s.setblocking(False)
    t_conn = time.time(); err = ""; lport = 0
    try:
        await asyncio.wait_for(loop.sock_connect(s, (host, 8080)), 30.0)
        lport = s.getsockname()[1]
        if UPLOAD and (UP_TO is None or host in UP_TO):
            await asyncio.wait_for(loop.sock_sendall(s, b"PUT %d\n" % UPLOAD + b"u" * UPLOAD), 30.0)
        else:
            await loop.sock_sendall(s, b"GET 300\n")
            got = 0
            while got < 300:
                d = await asyncio.wait_for(loop.sock_recv(s, 4096), 30.0)
                if not d:
                    break
                got += len(d)
    except (OSError, asyncio.TimeoutError) as e:
        try:
            lport = s.getsockname()[1]
        except OSError:
            pass
        err = type(e).__name__
    t_close = time.time()
    s.close()
    rows.append((int(t_conn * 1e6), int(t_close * 1e6), lport, host, 8080, err))

async def main():
    await asyncio.gather(*(one(*p) for p in plan))

asyncio.run(main())
rows.sort()
with open(OUT, "w") as f:
    f.write("t_connect_us,t_close_us,local_port,remote,remote_port,error\n")
    for r in rows:
        f.write(",".join(map(str, r)) + "\n")
print(f"client: {len(rows)} connections, {sum(1 for r in rows if r[5])} errors", flush=True)
EOF

cat >"$WORK/sampler.py" <<'EOF'
# Every 0.5 s (wall-clock grid): `ss -tanoH` per-state counts of the client
# namespace (orphan_ss: orphan states without a timewait timer, the namespace's
# orphans), /proc/net/sockstat (orphan_host: the kernel's orphan count is
# host-wide, other namespaces included; tw), TcpExt counters. t_us = midpoint
# of the ss dump. Stops once nothing but TIME-WAIT is left after QUIET_AFTER, or at STOP.
import subprocess, sys, time

OUT, STOP, QUIET_AFTER = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
STATES = {"ESTAB": "established", "SYN-SENT": "syn_sent", "FIN-WAIT-1": "fin_wait_1",
          "FIN-WAIT-2": "fin_wait_2", "TIME-WAIT": "time_wait", "CLOSE-WAIT": "close_wait",
          "LAST-ACK": "last_ack", "CLOSING": "closing"}
COLS = list(STATES.values())
ORPHAN_STATES = {"FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "LAST-ACK"}
EXT = ["TCPAbortOnMemory", "TCPAbortOnTimeout", "TCPAbortOnData", "TCPAbortOnClose"]

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
    full_orphan = 0
    for line in out.splitlines():
        st = line.split(None, 1)[0]
        if st in STATES:
            c[STATES[st]] += 1
        if st in ORPHAN_STATES and "timer:(timewait" not in line:
            full_orphan += 1
    return int((t1 + t2) / 2 * 1e6), c, kv["orphan"], kv["tw"], full_orphan, [kv[k] for k in EXT]

with open(OUT, "w") as f:
    f.write("t_us," + ",".join(COLS) + ",orphan_host,tw,orphan_ss," + ",".join(EXT) + "\n")
    quiet = 0
    while True:
        now = time.time()
        time.sleep((int(now * 2) + 1) / 2 - now)
        t, c, orphan, tw, full, ext = sample()
        f.write(f"{t}," + ",".join(str(c[k]) for k in COLS) + f",{orphan},{tw},{full}," +
                ",".join(map(str, ext)) + "\n")
        f.flush()
        busy = sum(c[k] for k in COLS if k != "time_wait") + full   # sockstat's orphan is host-wide
        quiet = quiet + 1 if busy == 0 and time.time() > QUIET_AFTER else 0
        if quiet >= 4 or time.time() > STOP:
            break
EOF

# ---------------------------------------------------------------- run
ulimit -n "$(ulimit -Hn)"
STALLED=$(peers_of peer_zero_window) UP=0 UP_TO=all
[[ -n $STALLED ]] && UP=$UPLOAD
[[ $RUN == mixed ]] && UP_TO=$STALLED
ip netns exec $S python3 "$WORK/server.py" "$PEERS" "$STALLED" "$RCVBUF" "$STALL" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$WORK/server.log" && break; sleep 0.1; done
grep -q ready "$WORK/server.log" || { cat "$WORK/server.log"; exit 1; }

ip netns exec $C tcpdump -i fr-c0 -n -s 96 -B 65536 -w "$WORK/capture.pcap" tcp >"$WORK/tcpdump.log" 2>&1 &
TCPDUMP=$!
PIDS+=($TCPDUMP)
for _ in $(seq 50); do grep -q "listening on" "$WORK/tcpdump.log" && break; sleep 0.1; done

T0=$(python3 -c 'import time; print(f"{int(time.time()) + 2:.6f}")')
ip netns exec $C python3 "$WORK/sampler.py" "$WORK/truth.csv" \
    "$(python3 -c "print($T0 + $DURATION + 90)")" "$(python3 -c "print($T0 + $DURATION + 1)")" &
SAMPLER=$!
PIDS+=($SAMPLER)
echo "run $RUN seed $SEED; impaired: $IMPAIRED; T0=$T0: traffic for $DURATION s, then until only TIME-WAIT is left"
ip netns exec $C python3 "$WORK/client.py" "$T0" "$WORK/connections.csv" "$SEED" "$PEERS" "$STALLED" \
    "$RATE" "$ZW_RATE" "$DURATION" "$UP" "$UP_TO"
wait "$SAMPLER" || true
sleep 0.5
kill -INT "$TCPDUMP"
wait "$TCPDUMP" || true
cat "$WORK/tcpdump.log"
{
    echo "run=$RUN"
    echo "name=$NAME"
    echo "made_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel=$(uname -r)"
    echo "t0_us=$(python3 -c "print(int($T0 * 1e6))")"
    echo "seed=$SEED"
    echo "local=10.79.0.1"
    echo "impaired=$IMPAIRED"
    echo "rate_per_peer=$RATE"
    [[ -n $STALLED ]] && echo "rate_per_impaired_peer=$ZW_RATE upload_bytes=$UPLOAD rcvbuf=$RCVBUF stall_s=$STALL"
    echo "duration_s=$DURATION"
    echo "tcp_max_orphans=$(cat /proc/sys/net/ipv4/tcp_max_orphans)"
    grep -E "packets (captured|received by filter|dropped by kernel)" "$WORK/tcpdump.log" |
        sed -E 's/^([0-9]+) (.*)$/tcpdump_\2=\1/; s/ /_/g'
    ip netns exec $C nstat -asz 2>/dev/null | awk '$1 ~ /^(TcpRetransSegs|TcpOutRsts|TcpActiveOpens|TcpEstabResets|TcpAttemptFails|TcpExtTCPAbortOn(Memory|Timeout|Data|Close)|TcpExtTCPLossProbes|TcpExtTCPTimeouts)$/ { print "nstat_" $1 "=" $2 }'
    echo "--- router ip rules (table 100: default dev fr-t0, the delay/loss line)"
    cat "$WORK/tc.txt"
    [[ -f $WORK/nft.txt ]] && { echo "--- router nft"; cat "$WORK/nft.txt"; }
    true
} >"$WORK/meta.txt"
mkdir -p "$OUT"
zstd -q -19 -f "$WORK/capture.pcap" -o "$OUT/capture.pcap.zst"
cp "$WORK/truth.csv" "$WORK/connections.csv" "$WORK/meta.txt" "$WORK/peers.csv" "$OUT/"
chmod 644 "$OUT"/*
echo "wrote $OUT"
ls -l "$OUT"
