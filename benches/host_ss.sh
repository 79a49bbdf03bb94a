#!/usr/bin/env bash
# Host snapshot reading at scale (issue 22; docs/performance.md, "Host snapshots").
#
# The issue's figure is 24 h of one `ss -tan` snapshot per second: 86,400 snapshots of 10,000
# sockets (864 M rows, ~80 GB of text). This generates SNAPS snapshots of SOCKS sockets
# (default 864 x 10,000: the same rows per snapshot, 1/100 of the snapshots) into one file in
# ss's own layout after `date +%s.%N` lines, then times, in one paired run on the same warm file,
#   finscope ss --json FILE                                       (per-state counts + tables)
#   awk '/^[0-9]+\.[0-9]+$/{next} $1!="State"{c[$1]++} END{...}'    (an awk count of the states)
# and prints wall time and peak RSS of each (GNU time). finscope's memory does not grow with
# SNAPS (run with SNAPS=86 and 864 to see it).
#
#   cargo build --release && benches/host_ss.sh            # SNAPS=864 SOCKS=10000
#   SNAPS=86400 SOCKS=10000 benches/host_ss.sh             # the full day (80 GB of disk)
set -eu
snaps=${SNAPS:-864}
socks=${SOCKS:-10000}
bin=${BIN:-target/release/finscope}
dir=$(mktemp -d "${TMPDIR:-/tmp}/host_ss.XXXXXX")
trap 'rm -rf "$dir"' EXIT
f=$dir/ss.log

awk -v snaps="$snaps" -v socks="$socks" 'BEGIN {
    split("ESTAB ESTAB ESTAB ESTAB TIME-WAIT TIME-WAIT FIN-WAIT-1 FIN-WAIT-2 CLOSE-WAIT LAST-ACK", st, " ")
    t = 1796519797
    for (s = 0; s < snaps; s++) {
        printf "%d.%09d\n", t + s, 123456789
        print "State      Recv-Q Send-Q      Local Address:Port        Peer Address:Port Process"
        for (i = 0; i < socks; i++) {
            printf "%-10s 0      0               10.0.%d.%d:%d       198.51.%d.%d:443\n",
                st[(i + s) % 10 + 1], int(i / 250) % 256, i % 250 + 1, 32768 + (i * 7 + s) % 28000,
                int(i / 200) % 256, i % 200 + 1
        }
    }
}' >"$f"
bytes=$(stat -c %s "$f")
rows=$((snaps * socks))
cat "$f" >/dev/null # warm the page cache for both

t() { /usr/bin/time -f '%e s, peak RSS %M KiB' "$@" 2>&1 >/dev/null | tail -1; }
fs=$(t "$bin" ss --json "$f")
# shellcheck disable=SC2016 # awk program, not shell
ak=$(t awk '/^[0-9]+\.[0-9]+$/ { next } $1 != "State" { c[$1]++ } END { for (s in c) print s, c[s] }' "$f")
echo "host_ss: $snaps snapshots x $socks sockets = $rows rows, $((bytes / 1048576)) MiB"
echo "  finscope ss --json: $fs"
echo "  awk count:          $ak ($(readlink -f "$(command -v awk)"))"
