#!/usr/bin/env bash
# finscope host evidence kit (issue 22, docs/host.md): run as root on the
# host during an incident. Into one folder it writes
#   cap.pcap0, cap.pcap1, ...  tcpdump with a rotation (-C MB, -W files)
#   ss.log, ss_s.log,          every second: `date +%s.%N` then `ss -tan`,
#   sockstat.log, nstat.log    `ss -s`, /proc/net/sockstat, `nstat -asz`
#   kernel.log                 dmesg --time-format iso --follow (journalctl
#                              -k -f -o short-iso-precise when dmesg cannot)
#   proc_stat.txt              /proc/stat (its btime: when the host booted)
#   sysctl.txt                 the TCP teardown sysctls
#   logs/                      the tools' own messages
# and stops cleanly on Ctrl-C (or after -t SECONDS): every loop finishes
# the snapshot it is writing, tcpdump flushes its file. Then:
#   finscope analyze --host DIR DIR/*.pcap*
set -u

usage() {
    cat <<USAGE
usage: $0 [-i IFACE] [-o DIR] [-f FILTER] [-C MB] [-W FILES] [-s SNAPLEN] [-n SECS] [-t SECS]
  -i IFACE   interface to capture on (default: any)
  -o DIR     folder to write (default: ./finscope-HOST-YYYYmmddTHHMMSSZ)
  -f FILTER  tcpdump filter (default: tcp)
  -C MB      rotate the capture every MB megabytes (default: 100)
  -W FILES   keep at most FILES capture files (default: 20; 0: no limit)
  -s SNAPLEN bytes kept per packet (default: 128: headers only)
  -n SECS    seconds between snapshots (default: 1)
  -t SECS    stop after SECS seconds (default: at Ctrl-C)
USAGE
}

iface=any
out="finscope-$(hostname)-$(date -u +%Y%m%dT%H%M%SZ)"
filter=tcp
size=100
files=20
snaplen=128
every=1
duration=
while getopts "i:o:f:C:W:s:n:t:h" opt; do
    case $opt in
        i) iface=$OPTARG ;;
        o) out=$OPTARG ;;
        f) filter=$OPTARG ;;
        C) size=$OPTARG ;;
        W) files=$OPTARG ;;
        s) snaplen=$OPTARG ;;
        n) every=$OPTARG ;;
        t) duration=$OPTARG ;;
        h) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if [ $# -gt 0 ]; then
    usage >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "collect.sh: not root: tcpdump and dmesg will probably fail" >&2
fi
for tool in tcpdump ss nstat; do
    command -v "$tool" >/dev/null || echo "collect.sh: $tool not found: its files stay empty" >&2
done

mkdir -p "$out/logs" || exit 2
say() { echo "collect.sh: $*" >&2; }

# When the host booted, and the limits that shape teardown.
cp /proc/stat "$out/proc_stat.txt"
{
    echo "# finscope collect.sh on $(hostname), $(uname -r), started $(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"
    for k in tcp_max_orphans tcp_orphan_retries tcp_fin_timeout tcp_max_tw_buckets \
        tcp_mem tcp_tw_reuse tcp_retries2 tcp_syn_retries tcp_synack_retries \
        tcp_max_syn_backlog tcp_syncookies tcp_keepalive_time tcp_rmem tcp_wmem; do
        sysctl "net.ipv4.$k" 2>>"$out/logs/sysctl.err"
    done
    sysctl net.core.somaxconn 2>>"$out/logs/sysctl.err"
} >"$out/sysctl.txt"

pids=()

# tcpdump: -Z root so that it may write into a folder root owns; -U so a
# file is whole up to its last packet when stopped.
rotate=(-C "$size")
if [ "$files" != 0 ]; then
    rotate+=(-W "$files")
fi
# shellcheck disable=SC2086 # the filter is words on purpose
tcpdump -i "$iface" -n -s "$snaplen" -U -Z root "${rotate[@]}" -w "$out/cap.pcap" $filter \
    2>"$out/logs/tcpdump.log" &
pids+=($!)

# One snapshot log: a time line, then the command's output, every $every
# seconds. TERM ends it after the snapshot being written.
snapshots() {
    local file=$1
    shift
    trap 'exit 0' TERM
    while :; do
        date +%s.%N
        "$@"
        sleep "$every"
    done >"$out/$file" 2>>"$out/logs/$file.err"
}
snapshots ss.log ss -tan &
pids+=($!)
snapshots ss_s.log ss -s &
pids+=($!)
snapshots sockstat.log cat /proc/net/sockstat &
pids+=($!)
snapshots nstat.log nstat -asz &
pids+=($!)

# The kernel log with wall-clock stamps (what it held before, then as it
# comes).
if dmesg --time-format iso >/dev/null 2>&1; then
    dmesg --time-format iso --follow >"$out/kernel.log" 2>"$out/logs/kernel.err" &
else
    journalctl -k -f -n all -o short-iso-precise >"$out/kernel.log" 2>"$out/logs/kernel.err" &
fi
pids+=($!)

stop() {
    trap - INT TERM
    say "stopping..."
    kill -TERM "${pids[@]}" 2>/dev/null
    wait
    say "done: $out"
    say "next: finscope analyze --host $out $out/*.pcap*"
    exit 0
}
trap stop INT TERM
say "collecting into $out (Ctrl-C to stop)"
if [ -n "$duration" ]; then
    sleep "$duration" &
    wait $!
    stop
fi
# Until Ctrl-C (or TERM), or until tcpdump ends on its own.
wait "${pids[0]}"
say "tcpdump ended (see $out/logs/tcpdump.log)"
stop
