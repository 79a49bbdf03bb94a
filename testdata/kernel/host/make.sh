#!/usr/bin/env bash
# Real-kernel runs of the incident with the collection kit's host evidence
# beside the capture: ../pairs/make.sh's load and setting (RUN, SEED), shorter
# (traffic for TRAFFIC_S=12 s, sampling stops at T0+STOP_S=30 s), with the kit's
# loops (kit.sh) writing ss/ss -s/sockstat/nstat snapshots, dmesg (raw and ISO),
# btime and the sysctls into the run folder. README.md beside this file.
#
# Run as root, one run per lock hold (another generator shares the kernel;
# tcp_max_orphans is host-wide and restored by pairs/make.sh at exit):
#   flock /work/kernel-run.lock env RUN=max_orphans_1024 SEED=11 bash testdata/kernel/host/make.sh
# NAME (default RUN) names the folder under testdata/kernel/host/.
# Namespaces hj-cli / hj-srv, veth hj-cli / hj-srv.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
RUN=${RUN:?RUN=max_orphans_N|orphan_retries_N|max_tw_buckets_N|unlimited|fin_timeout_N}
NAME=${NAME:-$RUN}
export RUN NAME SEED="${SEED:-11}"
export OUT="$HERE/$NAME" CLI=hj-cli SRV=hj-srv VETH=hj
export TRAFFIC_S=${TRAFFIC_S:-12} STOP_S=${STOP_S:-30}
export KIT_HOOK="$HERE/kit.sh"
bash "$HERE/../pairs/make.sh"
# Keep the folder small: the snapshot logs and the client log compressed.
for f in kit/ss.log kit/ss_s.log kit/sockstat.log kit/nstat.log connections.csv; do
    zstd -q -19 -f --rm "$OUT/$f"
done
chmod 644 "$OUT"/*.* "$OUT"/kit/* "$OUT"/oracle/*
chmod 755 "$OUT/kit" "$OUT/oracle"
bash "$HERE/truths.sh" >/dev/null
du -sh "$OUT"
