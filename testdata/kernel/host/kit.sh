# Sourced by ../pairs/make.sh (KIT_HOOK): the collection kit's loops during a
# run, as an operator would run them (scripts/collect.sh does the same). Runs in
# make.sh's shell: CLI, OUT, WORK, PIDS, DMESG_MARK are make.sh's.
#
# Writes into $OUT/kit/ (what `finscope analyze --host $OUT/kit` reads), and $OUT/oracle/:
#   ss.log        `date +%s.%N; ss -tan` every ~1 s, client namespace
#   ss_s.log      `date +%s.%N; ss -s`
#   sockstat.log  `date +%s.%N; cat /proc/net/sockstat`
#   nstat.log     `date +%s.%N; nstat -asz` (absolute, history untouched)
#   dmesg.log     raw `dmesg` lines after the run's start ("[ 1187.383535] ...")
#   stat.txt      the btime line of /proc/stat (whole seconds)
#   sysctl.txt    the relevant sysctls, as `sysctl` prints them
#   oracle/dmesg-iso.txt  the same kernel lines as `dmesg --time-format iso`
#                         (util-linux places them with a microsecond boot time)
#   oracle/boot_time.txt  CLOCK_REALTIME - CLOCK_BOOTTIME in seconds, read
#                         right after the dmesg dumps

kit_start() {
    KIT="$OUT/kit"
    mkdir -p "$KIT" "$OUT/oracle"
    rm -f "$KIT"/* "$WORK/kit.stop"
    grep '^btime' /proc/stat >"$KIT/stat.txt"
    ip netns exec "$CLI" bash -c '
        stop=$1
        while [[ ! -e $stop ]]; do
            { date +%s.%N; ss -tan; } >&3
            { date +%s.%N; ss -s; } >&4
            { date +%s.%N; cat /proc/net/sockstat; } >&5
            { date +%s.%N; nstat -asz; } >&6
            sleep 0.9
        done' kit "$WORK/kit.stop" \
        3>"$KIT/ss.log" 4>"$KIT/ss_s.log" 5>"$KIT/sockstat.log" 6>"$KIT/nstat.log" &
    KIT_LOOP=$!
    PIDS+=("$KIT_LOOP")
}

kit_stop() {
    touch "$WORK/kit.stop"
    wait "$KIT_LOOP" || true
    # tcp_max_orphans and tcp_mem are global (not in the namespace's /proc/sys)
    {
        sysctl net.ipv4.tcp_max_orphans net.ipv4.tcp_mem
        ip netns exec "$CLI" sysctl net.ipv4.tcp_orphan_retries net.ipv4.tcp_max_tw_buckets \
            net.ipv4.tcp_fin_timeout net.ipv4.tcp_retries2 net.ipv4.ip_local_port_range
    } >"$KIT/sysctl.txt"
    python3 - "$DMESG_MARK" "$OUT" <<'PY'
# The raw and ISO dumps of the same kernel lines (same ring buffer, read twice
# until both have the same number of lines), only those after the run's mark.
import re, subprocess, sys, time
mark, out = float(sys.argv[1]), sys.argv[2]
for _ in range(10):
    raw = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout.splitlines()
    iso = subprocess.run(["dmesg", "--time-format", "iso"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    boot = time.clock_gettime(time.CLOCK_REALTIME) - time.clock_gettime(time.CLOCK_BOOTTIME)
    if len(raw) == len(iso):
        break
keep = [i for i, l in enumerate(raw)
        if (m := re.match(r"\[\s*(\d+\.\d+)\]", l)) and float(m.group(1)) > mark]
with open(f"{out}/kit/dmesg.log", "w") as f:
    f.writelines(raw[i] + "\n" for i in keep)
with open(f"{out}/oracle/dmesg-iso.txt", "w") as f:
    f.writelines(iso[i] + "\n" for i in keep)
with open(f"{out}/oracle/boot_time.txt", "w") as f:
    f.write(f"{boot:.6f}\n")
PY
}
