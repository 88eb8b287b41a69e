#!/usr/bin/env bash
# pcap-throughput benchmark: plainsight against Suricata 7, ndpiReader and tshark
# on the same capture, in the same run, each pinned to one core.
#
#   scripts/install-peers.sh     # once: tshark, ndpiReader, suricata 7 (backports)
#   scripts/bench-pcap.sh        # build, generate the input if missing, measure
#
# Steps:
#   1. cargo build --release -p plainsight (a failed build is reported and the
#      peers are measured anyway; plainsight is then "not available").
#   2. Generates target/bench/bench-<SIZE>MB.pcap with scripts/gen-bench-pcap.py
#      from tests/corpus/ if it is missing or stale (deterministic output).
#   3. Runs every tool BENCH_REPS times (rounds interleaved: tool A, B, C, D,
#      then again), each under `taskset -c BENCH_CPU` and GNU `time -v`, with
#      the capture in the page cache. Records wall time, user+sys CPU time and
#      max RSS, and derives packets/s and MB/s from the median wall time.
#   4. Prints a Markdown table with the ratios plainsight/peer (throughput,
#      > 1 means plainsight is faster) and writes it, with the command, tool
#      versions, CPU model and date, to docs/bench-pcap.md (BENCH_DOC).
#
# Environment:
#   BENCH_SIZE_MB  size of the generated capture in MB (default 300)
#   BENCH_REPS     repetitions per tool (default 3)
#   BENCH_CPU      core to pin every tool to (default 1)
#   BENCH_NICE     nice level of the measured runs (default -20 as root, else 0),
#                  so that other load on the machine disturbs them less
#   BENCH_TOOLS    space-separated subset of "plainsight suricata ndpireader tshark floor"
#                  (floor: `tcpdump -r FILE -w /dev/null`, the record loop alone: reading
#                  and writing every record with no analysis, the least any tool can cost)
#   BENCH_PCAP     use this capture instead of generating one
#   BENCH_MIX      a name for the input in the report (default "corpus" for the
#                  generated file, else the file's name), e.g. a `cargo xtask
#                  bench-capture` mix: handshake, bulk, mixed
#   BENCH_TSV      also write the medians here, one line per tool:
#                  mix, tool, CPU s, wall s, max RSS MiB, packets, bytes (tab-separated)
#   BENCH_DOC      where to write the report (default docs/bench-pcap.md; "-" = don't)
#   PLAINSIGHT_CORPUS  the corpus folder (default tests/corpus in the repository)
#   PLAINSIGHT_BIN     measure this plainsight binary instead of building one
set -euo pipefail

die() { printf 'bench-pcap: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'bench-pcap: %s\n' "$*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SIZE_MB="${BENCH_SIZE_MB:-300}"
REPS="${BENCH_REPS:-3}"
CPU="${BENCH_CPU:-1}"
if [[ $(id -u) -eq 0 ]]; then NICE="${BENCH_NICE:--20}"; else NICE="${BENCH_NICE:-0}"; fi
TOOLS="${BENCH_TOOLS:-plainsight suricata ndpireader tshark floor}"
DOC="${BENCH_DOC:-docs/bench-pcap.md}"
CORPUS="${PLAINSIGHT_CORPUS:-$ROOT/tests/corpus}"
SURICATA_YAML="$CORPUS/peers/suricata-7.0.10/suricata.yaml"
OUT_DIR="$ROOT/target/bench"
LOG_DIR="$OUT_DIR/logs"
PLAINSIGHT_BIN="${PLAINSIGHT_BIN:-}"

[[ "$SIZE_MB" =~ ^[0-9]+$ && "$SIZE_MB" -gt 0 ]] || die "BENCH_SIZE_MB must be a positive integer"
[[ "$REPS" =~ ^[0-9]+$ && "$REPS" -gt 0 ]] || die "BENCH_REPS must be a positive integer"
[[ "$CPU" =~ ^[0-9]+$ ]] || die "BENCH_CPU must be a core number"
[[ "$NICE" =~ ^-?[0-9]+$ ]] || die "BENCH_NICE must be an integer"
NCPU=$(nproc --all)
((CPU < NCPU)) || die "BENCH_CPU=$CPU but this machine has $NCPU cores"
for t in $TOOLS; do
    case "$t" in plainsight|suricata|ndpireader|tshark|floor) ;; *) die "unknown tool in BENCH_TOOLS: $t" ;; esac
done
for c in taskset python3; do
    command -v "$c" >/dev/null 2>&1 || die "$c not found (run scripts/install-peers.sh)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) not found (run scripts/install-peers.sh)"

mkdir -p "$OUT_DIR" "$LOG_DIR"
COMMAND_LINE="scripts/bench-pcap.sh"
for v in BENCH_SIZE_MB BENCH_REPS BENCH_CPU BENCH_NICE BENCH_TOOLS BENCH_PCAP BENCH_MIX BENCH_TSV PLAINSIGHT_BIN; do
    if [[ -n "${!v:-}" ]]; then COMMAND_LINE="$v=$(printf '%q' "${!v}") $COMMAND_LINE"; fi
done

# ------------------------------------------------------------------ 1. build
declare -A AVAIL=() REASON=()
if [[ " $TOOLS " == *" plainsight "* && -n "$PLAINSIGHT_BIN" ]]; then
    if [[ -x "$PLAINSIGHT_BIN" ]]; then
        AVAIL[plainsight]=1
    else
        AVAIL[plainsight]=0
        REASON[plainsight]="PLAINSIGHT_BIN=$PLAINSIGHT_BIN is not executable"
        log "plainsight: ${REASON[plainsight]}"
    fi
elif [[ " $TOOLS " == *" plainsight "* ]]; then
    PLAINSIGHT_BIN="$ROOT/target/release/plainsight"
    log "building plainsight (cargo build --release -p plainsight)"
    if cargo build --release -p plainsight >"$LOG_DIR/cargo-build.log" 2>&1 && [[ -x "$PLAINSIGHT_BIN" ]]; then
        AVAIL[plainsight]=1
    else
        AVAIL[plainsight]=0
        REASON[plainsight]="release build failed (see target/bench/logs/cargo-build.log)"
        log "plainsight: ${REASON[plainsight]}; measuring the peers only"
        tail -n 5 "$LOG_DIR/cargo-build.log" >&2 || true
    fi
fi
check_peer() { # name binary
    if command -v "$2" >/dev/null 2>&1; then
        AVAIL[$1]=1
    else
        AVAIL[$1]=0
        REASON[$1]="$2 not installed (run scripts/install-peers.sh)"
        log "$1: ${REASON[$1]}"
    fi
}
[[ " $TOOLS " == *" suricata "* ]] && check_peer suricata suricata
[[ " $TOOLS " == *" ndpireader "* ]] && check_peer ndpireader ndpiReader
[[ " $TOOLS " == *" tshark "* ]] && check_peer tshark tshark
[[ " $TOOLS " == *" floor "* ]] && check_peer floor tcpdump
if [[ "${AVAIL[suricata]:-0}" == 1 && ! -r "$SURICATA_YAML" ]]; then
    AVAIL[suricata]=0
    REASON[suricata]="configuration $SURICATA_YAML not found (set PLAINSIGHT_CORPUS)"
    log "suricata: ${REASON[suricata]}"
fi

# ------------------------------------------------------------------ 2. input
if [[ -n "${BENCH_PCAP:-}" ]]; then
    PCAP="$BENCH_PCAP"
    [[ -r "$PCAP" ]] || die "BENCH_PCAP=$PCAP is not readable"
    MIX="${BENCH_MIX:-$(basename "$PCAP")}"
    INPUT_DESC="\`$PCAP\` (given by BENCH_PCAP)"
    # A capture recorded by `cargo xtask bench-capture` says what it holds.
    if [[ -r "$PCAP.txt" ]]; then
        INPUT_DESC="$INPUT_DESC, recorded by \`cargo xtask bench-capture\`: $(head -n 3 "$PCAP.txt" | paste -sd ';' | sed 's/;/; /g')"
    fi
else
    [[ -r "$CORPUS/INDEX.tsv" ]] || die "corpus not found at $CORPUS (set PLAINSIGHT_CORPUS)"
    MIX="${BENCH_MIX:-corpus}"
    PCAP="$OUT_DIR/bench-${SIZE_MB}MB.pcap"
    GEN_CMD=(python3 scripts/gen-bench-pcap.py --corpus "$CORPUS" --out "$PCAP" --size-mb "$SIZE_MB")
    # Regenerate when the generator or the corpus index changed.
    stamp_want=$(cat scripts/gen-bench-pcap.py "$CORPUS/INDEX.tsv" | sha256sum | cut -c1-16)
    stamp_have=$(cat "$PCAP.stamp" 2>/dev/null || true)
    if [[ ! -s "$PCAP" || "$stamp_have" != "$stamp_want" ]]; then
        log "generating $PCAP (${SIZE_MB} MB)"
        rm -f "$PCAP.stamp"
        "${GEN_CMD[@]}" 2>"$LOG_DIR/gen-bench-pcap.log" || { cat "$LOG_DIR/gen-bench-pcap.log" >&2; die "input generation failed"; }
        tail -n 1 "$LOG_DIR/gen-bench-pcap.log" >&2
        echo "$stamp_want" >"$PCAP.stamp"
    else
        log "using existing $PCAP"
    fi
    INPUT_DESC="\`target/bench/$(basename "$PCAP")\`, generated by \`python3 scripts/gen-bench-pcap.py --corpus <corpus> --out $(basename "$PCAP") --size-mb $SIZE_MB\`: the $(grep -o '[0-9]* captures' "$LOG_DIR/gen-bench-pcap.log" 2>/dev/null || echo 'corpus') with TLS or plaintext-protocol tags from tests/corpus/, repeated with fresh IP addresses per copy so flows stay distinct"
fi
PCAP_BYTES=$(stat -L -c %s "$PCAP")
if command -v capinfos >/dev/null 2>&1; then
    PCAP_PKTS=$(capinfos -M -c -T -r "$PCAP" | awk -F'\t' 'NR==1{print $2}')
else
    PCAP_PKTS=$(python3 - "$PCAP" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    hdr = f.read(24); e = "<" if hdr[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"; n = 0
    while True:
        r = f.read(16)
        if len(r) < 16: break
        f.seek(struct.unpack(e + "IIII", r)[2], 1); n += 1
print(n)
EOF
)
fi
[[ "$PCAP_PKTS" =~ ^[0-9]+$ ]] || die "could not count the packets of $PCAP"
PCAP_SHA=$(sha256sum "$PCAP" | cut -c1-16)
log "input: $PCAP, $PCAP_BYTES bytes, $PCAP_PKTS packets, sha256 $PCAP_SHA…"

# ------------------------------------------------------------------ 3. measure
RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-pcap.XXXXXX")
# With scheduler autogroups (kernel.sched_autogroup_enabled=1) a process's nice
# level only counts inside its own session; against the other sessions the
# session's autogroup nice counts. Set that too for the duration of the runs.
AUTOGROUP_OLD=""
cleanup() {
    rm -rf "$RUN_TMP"
    if [[ -n "$AUTOGROUP_OLD" ]]; then echo "$AUTOGROUP_OLD" >"/proc/$$/autogroup" 2>/dev/null || true; fi
}
trap cleanup EXIT
AUTOGROUP_NOTE=""
if [[ "$NICE" != 0 && -w "/proc/$$/autogroup" ]] \
    && [[ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" == 1 ]]; then
    old=$(sed -n 's/.* nice \(-\{0,1\}[0-9]*\).*/\1/p' "/proc/$$/autogroup")
    if echo "$NICE" >"/proc/$$/autogroup" 2>/dev/null; then
        AUTOGROUP_OLD="${old:-0}"
        AUTOGROUP_NOTE=" (and the same autogroup nice level for the benchmark's session)"
    fi
fi

# Runs argv[2:] with stdin/stdout/stderr inherited and writes its rusage (user and
# system time with microseconds, max RSS) to argv[1]; exits with the child's status.
RUSAGE_PY='
import os, sys, time
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
with open(sys.argv[1], "w") as f:
    f.write("Wall (seconds): %.6f\n" % wall)
    f.write("User time (seconds): %.6f\nSystem time (seconds): %.6f\n" % (ru.ru_utime, ru.ru_stime))
    f.write("Maximum resident set size (kbytes): %d\n" % ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
'

# The command of each tool, as an array; $PCAP is the input.
tool_cmd() { # name outdir [capture]
    local f="${3:-$PCAP}"
    case "$1" in
        plainsight) CMD=("$PLAINSIGHT_BIN" pcap "$f" --format json) ;;
        suricata) CMD=(suricata -c "$SURICATA_YAML" -k none --runmode single
                       --set stream.midstream=true -S /dev/null -r "$f" -l "$2") ;;
        ndpireader) CMD=(ndpiReader -i "$f" -q) ;;
        tshark) CMD=(tshark -n -r "$f" -Y tls.handshake -T fields -e tls.handshake.type) ;;
        floor) CMD=(tcpdump -r "$f" -w /dev/null) ;;
    esac
}
# The same, for the report (paths shortened).
tool_cmd_doc() {
    case "$1" in
        plainsight) echo "plainsight pcap FILE --format json > OUT" ;;
        suricata) echo "suricata -c <corpus>/peers/suricata-7.0.10/suricata.yaml -k none --runmode single --set stream.midstream=true -S /dev/null -r FILE -l TMPDIR" ;;
        ndpireader) echo "ndpiReader -i FILE -q > OUT" ;;
        tshark) echo "tshark -n -r FILE -Y tls.handshake -T fields -e tls.handshake.type > OUT" ;;
        floor) echo "tcpdump -r FILE -w /dev/null" ;;
    esac
}
tool_version() {
    case "$1" in
        plainsight) "$PLAINSIGHT_BIN" --version 2>/dev/null | head -n1 || echo "?"
                    printf ' (git %s)' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" ;;
        suricata) suricata -V 2>/dev/null | head -n1 | sed 's/^This is //'
                  printf ' (Debian %s)' "$(dpkg-query -W -f='${Version}' suricata 2>/dev/null || echo '?')" ;;
        ndpireader) printf 'nDPI %s' "$(ndpiReader -h 2>&1 | sed -n 's/.*nDPI \([0-9][0-9.]*\).*/\1/p' | head -n1)"
                    printf ' (Debian libndpi-bin %s)' "$(dpkg-query -W -f='${Version}' libndpi-bin 2>/dev/null || echo '?')" ;;
        tshark) tshark --version 2>/dev/null | head -n1 ;;
        floor) tcpdump --version 2>/dev/null | head -n1 ;;
    esac
}
tool_label() {
    case "$1" in
        plainsight) echo plainsight ;; suricata) echo "Suricata" ;;
        ndpireader) echo "ndpiReader" ;; tshark) echo "tshark" ;;
        floor) echo "record-loop floor (tcpdump -r … -w /dev/null)" ;;
    esac
}

declare -A WALLS=() CPUS=() RSS=() FAILS=() VERSION=() OUTBYTES=() STARTUP=()
for t in $TOOLS; do
    [[ "${AVAIL[$t]}" == 1 ]] && VERSION[$t]=$(tool_version "$t" | tr -d '\n')
done

log "warming the page cache"
cat "$PCAP" >/dev/null
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# Start-up cost: each tool on a capture holding only the first packet of the input, the
# best of 3 runs (the first run of a freshly built binary also pages it in from disk).
ONE_PCAP="$RUN_TMP/one-packet.pcap"
python3 - "$PCAP" "$ONE_PCAP" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    hdr = f.read(24)
    e = "<" if hdr[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    rec = f.read(16)
    body = f.read(struct.unpack(e + "IIII", rec)[2])
with open(sys.argv[2], "wb") as o:
    o.write(hdr + rec + body)
EOF
for t in $TOOLS; do
    [[ "${AVAIL[$t]}" == 1 ]] || continue
    mkdir -p "$RUN_TMP/$t-startup"
    tool_cmd "$t" "$RUN_TMP/$t-startup" "$ONE_PCAP"
    best=""
    for _ in 1 2 3; do
        t0=$(date +%s%N)
        if nice -n "$NICE" taskset -c "$CPU" "${CMD[@]}" >/dev/null 2>"$LOG_DIR/$t-startup.stderr"; then
            t1=$(date +%s%N)
            ns=$((t1 - t0))
            if [[ -z "$best" || "$ns" -lt "$best" ]]; then best=$ns; fi
        fi
    done
    if [[ -n "$best" ]]; then
        STARTUP[$t]=$(awk -v n="$best" 'BEGIN { printf "%.2f", n / 1e9 }')
        log "$t start-up (1-packet capture, best of 3): ${STARTUP[$t]}s"
    fi
    rm -rf "$RUN_TMP/$t-startup"
done

for ((rep = 1; rep <= REPS; rep++)); do
    for t in $TOOLS; do
        [[ "${AVAIL[$t]}" == 1 ]] || continue
        outdir="$RUN_TMP/$t-$rep"
        mkdir -p "$outdir"
        tool_cmd "$t" "$outdir"
        tv="$RUN_TMP/time-$t-$rep"
        errlog="$LOG_DIR/$t-$rep.stderr"
        t0=$(date +%s%N)
        rc=0
        # stdout goes to a file (like Suricata's EVE output) so that it can be checked.
        # CPU time from wait4(2)'s rusage (microseconds; GNU time rounds to 10 ms, too
        # coarse for the record-loop floor), in GNU time -v's wording.
        python3 -c "$RUSAGE_PY" "$tv" nice -n "$NICE" taskset -c "$CPU" "${CMD[@]}" \
            >"$outdir/stdout" 2>"$errlog" || rc=$?
        t1=$(date +%s%N)
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        # Wall time from the wrapper too (fork to wait4), without its own start-up.
        if grep -q '^Wall' "$tv" 2>/dev/null; then
            wall=$(awk -F': ' '/^Wall/ { printf "%.3f", $2 }' "$tv")
        fi
        cpu=$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END { printf "%.3f", u + s }' "$tv")
        rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$tv")
        outbytes=$(stat -c %s "$outdir/stdout")
        if ((rc != 0)); then
            log "$t run $rep: exit status $rc after ${wall}s (see $errlog)"
            FAILS[$t]="${FAILS[$t]:-}exit status $rc;"
            rm -rf "$outdir"
            continue
        fi
        # plainsight must write events: an empty output means it did not analyse the file.
        if [[ "$t" == plainsight ]] && ((outbytes == 0)); then
            log "$t run $rep: exit 0 after ${wall}s but wrote no event: not counted (see $errlog)"
            FAILS[$t]="${FAILS[$t]:-}exits 0 but writes no event (analysis not implemented in this build?);"
            rm -rf "$outdir"
            continue
        fi
        OUTBYTES[$t]=$outbytes
        [[ "$t" == suricata ]] && cp "$outdir/suricata.log" "$LOG_DIR/suricata-$rep.log" 2>/dev/null
        rm -rf "$outdir"
        WALLS[$t]="${WALLS[$t]:-} $wall"
        CPUS[$t]="${CPUS[$t]:-} $cpu"
        RSS[$t]="${RSS[$t]:-} $rss"
        log "$t run $rep/$REPS: wall ${wall}s, cpu ${cpu}s, max RSS ${rss} MiB"
    done
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# Suricata says how many packets it read: a check that it saw the whole file.
SURI_READ=""
if [[ -r "$LOG_DIR/suricata-1.log" ]]; then
    SURI_READ=$(grep -o 'read 1 file, [0-9]* packets' "$LOG_DIR/suricata-1.log" | head -n1 || true)
fi

# ------------------------------------------------------------------ 4. report
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s–%s", lo, hi }'; }

PS_MED="" PS_CPU=""
if [[ -n "${WALLS[plainsight]:-}" ]]; then
    PS_MED=$(median <<<"${WALLS[plainsight]}")
    PS_CPU=$(median <<<"${CPUS[plainsight]}")
fi

# "a;a;b;" -> "a (2 of N runs), b (1 of N runs)"
fail_summary() {
    tr ';' '\n' <<<"$1" | grep -v '^$' | sort | uniq -c \
        | awk -v n="$REPS" '{ c = $1; sub(/^ *[0-9]+ /, ""); printf "%s%s (%d of %d runs)", sep, $0, c, n; sep = "; " }'
}

table() {
    echo "| Tool | Wall time, median of $REPS (min–max) | CPU time (user+sys), median | Packets/s | MB/s | Max RSS | Start-up (1-packet file) | plainsight / tool (wall) | plainsight / tool (CPU) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for t in $TOOLS; do
        label=$(tool_label "$t")
        if [[ "${AVAIL[$t]}" != 1 ]]; then
            echo "| $label | not available: ${REASON[$t]} | | | | | | | |"
            continue
        fi
        if [[ -z "${WALLS[$t]:-}" ]]; then
            echo "| $label | not available: $(fail_summary "${FAILS[$t]:-}") | | | | | | | |"
            continue
        fi
        med=$(median <<<"${WALLS[$t]}")
        rng=$(minmax <<<"${WALLS[$t]}")
        cpu=$(median <<<"${CPUS[$t]}")
        rss=$(tr ' ' '\n' <<<"${RSS[$t]}" | sort -n | tail -n1)
        pps=$(awk -v p="$PCAP_PKTS" -v w="$med" 'BEGIN { printf "%.0f", p / w }')
        mbs=$(awk -v b="$PCAP_BYTES" -v w="$med" 'BEGIN { printf "%.1f", b / 1e6 / w }')
        if [[ "$t" == plainsight ]]; then
            ratio="1.00" cratio="1.00"
        elif [[ -n "$PS_MED" ]]; then
            ratio=$(awk -v a="$PS_MED" -v b="$med" 'BEGIN { printf "%.2f×", b / a }')
            cratio=$(awk -v a="$PS_CPU" -v b="$cpu" 'BEGIN { if (a > 0) printf "%.2f×", b / a; else print "n/a" }')
        else
            ratio="pending" cratio="pending"
        fi
        fail=""
        [[ -n "${FAILS[$t]:-}" ]] && fail=" (failed runs not counted: $(fail_summary "${FAILS[$t]}"))"
        startup="${STARTUP[$t]:+${STARTUP[$t]} s}"
        echo "| $label | ${med} s (${rng})$fail | ${cpu} s | $pps | $mbs | $rss MiB | ${startup:-–} | $ratio | $cratio |"
    done
}

TABLE=$(table)
if [[ -n "${BENCH_TSV:-}" ]]; then
    for t in $TOOLS; do
        [[ -n "${WALLS[$t]:-}" ]] || continue
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$MIX" "$t" "$(median <<<"${CPUS[$t]}")" \
            "$(median <<<"${WALLS[$t]}")" "$(tr ' ' '\n' <<<"${RSS[$t]}" | sort -n | tail -n1)" \
            "$PCAP_PKTS" "$PCAP_BYTES"
    done >"$BENCH_TSV"
    log "wrote $BENCH_TSV"
fi
# shellcheck source=/dev/null
OS_NAME=$(. /etc/os-release && echo "${PRETTY_NAME:-?}")
CPU_MODEL=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)
CPU_MODEL="${CPU_MODEL:-$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)}"
DATE_UTC=$(date -u '+%Y-%m-%d %H:%M UTC')

report() {
    cat <<EOF
# pcap throughput: plainsight against Suricata, ndpiReader and tshark ($MIX mix)

Measured on $DATE_UTC by

\`\`\`
$COMMAND_LINE
\`\`\`

(after \`scripts/install-peers.sh\`). Every tool reads the same capture in the same run,
pinned to one core with \`taskset -c $CPU\` (all of its threads share that core) at
\`nice -n $NICE\`$AUTOGROUP_NOTE, $REPS times, with the rounds interleaved (each tool once, then again)
and the capture in the page cache. Packets/s and MB/s are computed from the median wall
time. "plainsight / tool" is the throughput ratio (the tool's time divided by
plainsight's), from wall time and from CPU time: above 1 means plainsight is faster.
Load average (1, 5, 15 min) before the runs: $LOAD_BEFORE; after: $LOAD_AFTER. The
machine is shared with other work: when the load is above the core count, the wall times
include waiting for the core, and the CPU-time ratio is the steadier figure.

## Results

$TABLE

- Input: $INPUT_DESC.
  $PCAP_BYTES bytes, $PCAP_PKTS packets (sha256 \`$PCAP_SHA…\`).${SURI_READ:+ Suricata reported \"$SURI_READ\".}
- Machine: $CPU_MODEL, $NCPU cores, $(uname -sr), $OS_NAME.
- MB is 10^6 bytes of capture file (record headers included); packets/s counts every record.
- Wall time: from fork to \`wait4(2)\` in a small Python wrapper; CPU time (user+sys) and max RSS: the
  rusage \`wait4(2)\` returns for the tool's process (microseconds; its threads included).
  Start-up: wall time, best of 3 runs, on a capture holding only the first packet of the input
  (configuration loading, dissector registration…); it is included in the wall times above.
- Every tool's standard output goes to a temporary file that is deleted after the run
  (Suricata writes its EVE log to a temporary folder). A plainsight run that exits 0 but
  writes no event is not counted (plainsight is then "not available").

## Commands and versions

| Tool | Version | Command (FILE is the capture) | Standard output (last run) |
|---|---|---|---:|
EOF
    for t in $TOOLS; do
        echo "| $(tool_label "$t") | ${VERSION[$t]:-not available} | \`$(tool_cmd_doc "$t")\` | ${OUTBYTES[$t]:-–} bytes |"
    done
    cat <<'EOF'

What each tool does with the file, so the figures are read for what they are:

- **plainsight** parses every packet, reassembles TCP, parses TLS handshakes and the
  plaintext protocols, and writes one JSON event per flow.
- **Suricata** (`--runmode single`: one packet thread, plus its flow manager and
  recycler threads, all on the same core) decodes, tracks flows and streams, runs its
  app-layer parsers and writes EVE JSON (tls, flow, protocol and anomaly events, as
  configured in the corpus `suricata.yaml`) to a temporary folder. No rules are loaded
  (`-S /dev/null`), checksums are not checked (`-k none`), midstream pickup is on.
- **ndpiReader** (nDPI) classifies every flow (DPI plus guessing) and, with `-q`,
  prints nothing; it keeps the flow tables in memory and does not write per-flow output.
- **tshark** does a full Wireshark dissection of every packet (all dissectors, TCP
  reassembly, the display filter), which is far more work per packet than the others;
  it prints only the handshake types of the frames that match `tls.handshake`.

## Where the time goes

The instruction profile of `plainsight pcap` on a handshake-heavy and a bulk-heavy
capture, the changes it led to and the commands: [profile-pcap.md](profile-pcap.md).
EOF
}

echo
printf '%s\n' "$TABLE"
echo
if [[ "$DOC" != "-" ]]; then
    mkdir -p "$(dirname "$DOC")"
    report >"$DOC"
    log "wrote $DOC"
fi
