#!/usr/bin/env bash
# The truths of every run folder here, with awk from the kit's own logs
# (README.md quotes them): per `ss -tan` snapshot the sockets per state
# (-> ss_counts.csv), then per run the peaks, sockstat's orphan/tw peaks,
# the nstat counters' growth from the first to the last snapshot, and the
# kernel messages.  Usage: bash truths.sh   (from anywhere)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
for d in "$HERE"/*/; do
    run=$(basename "$d")
    zstd -dc "$d/kit/ss.log.zst" | awk '
        /^[0-9]+\.[0-9]+$/ { if (t != "") emit(); t = $1; split("", c); next }
        $1 == "State" { next }
        { c[$1]++ }
        function emit() {
            printf "%s,%d,%d,%d,%d,%d,%d,%d\n", t, c["ESTAB"], c["FIN-WAIT-1"], c["FIN-WAIT-2"],
                c["TIME-WAIT"], c["CLOSE-WAIT"], c["LAST-ACK"], c["CLOSING"]
        }
        BEGIN { print "t,established,fin_wait_1,fin_wait_2,time_wait,close_wait,last_ack,closing" }
        END { if (t != "") emit() }' >"$d/ss_counts.csv"
    echo "== $run"
    awk -F, 'NR > 1 { n++; for (i = 2; i <= 8; i++) if ($i > m[i]) m[i] = $i }
        END { printf "ss snapshots %d; peaks: ESTAB %d FIN-WAIT-1 %d FIN-WAIT-2 %d TIME-WAIT %d CLOSE-WAIT %d LAST-ACK %d CLOSING %d\n",
              n, m[2], m[3], m[4], m[5], m[6], m[7], m[8] }' "$d/ss_counts.csv"
    zstd -dc "$d/kit/sockstat.log.zst" | awk '
        /^[0-9]+\.[0-9]+$/ { n++ }
        $1 == "TCP:" { for (i = 2; i < NF; i += 2) { if ($i == "orphan" && $(i+1) > o) o = $(i+1); if ($i == "tw" && $(i+1) > w) w = $(i+1) } }
        END { printf "sockstat snapshots %d; peaks: orphan %d tw %d\n", n, o, w }'
    zstd -dc "$d/kit/nstat.log.zst" | awk '
        /^[0-9]+\.[0-9]+$/ { n++; next }
        $1 ~ /^(TcpExtTCPAbortOn(Memory|Timeout|Data|Close|Linger)|TcpExtTW|TcpExtTCPTimeWaitOverflow|TcpOutRsts|TcpRetransSegs)$/ {
            if (!($1 in first)) { first[$1] = $2; order[++k] = $1 } last[$1] = $2 }
        END { printf "nstat snapshots %d; growth first -> last:", n
              for (i = 1; i <= k; i++) printf " %s %d", order[i], last[order[i]] - first[order[i]]; print "" }'
    printf "dmesg: %d 'too many orphaned sockets', %d suppressed by net_ratelimit\n" \
        "$(grep -c 'too many orphaned sockets' "$d/kit/dmesg.log" || true)" \
        "$(awk '/callbacks suppressed/ { s += $(NF-2) } END { print s + 0 }' "$d/kit/dmesg.log")"
done
