#!/usr/bin/env bash
# Installs the peer tools of the pcap-throughput benchmark (scripts/bench-pcap.sh):
#   - tshark          (Debian main; setuid dumpcap disabled by preseeding)
#   - ndpiReader      (Debian main, package libndpi-bin)
#   - suricata 7      (bookworm-backports)
#   - GNU time, taskset (util-linux), mergecap (wireshark-common)
#
# Suricata comes from bookworm-backports through a temporary sources file, so
# the system's apt configuration is left unchanged: the temporary file repeats
# the system's own sources (/etc/apt/sources.list and /etc/apt/sources.list.d/,
# one-line and deb822 formats) and adds the "<codename>-backports" suite on the
# same mirror and with the same keyring as the main archive. No mirror host is
# hard-coded: it is read from the system's sources at run time.
#
# Idempotent: when everything is already installed it only checks and exits.
# Needs root (or sudo) for apt-get. Debian bookworm only.
#
# Usage: scripts/install-peers.sh [--force-update]
#   BPO_DIR=/tmp/plainsight-bpo  where the temporary sources and lists live.
set -euo pipefail

die() { printf 'install-peers: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'install-peers: %s\n' "$*" >&2; }

FORCE_UPDATE=0
for arg in "$@"; do
    case "$arg" in
        --force-update) FORCE_UPDATE=1 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) die "unknown argument: $arg (see --help)" ;;
    esac
done

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "needs root or sudo to run apt-get"
    SUDO=(sudo)
fi

[[ -r /etc/os-release ]] || die "/etc/os-release missing: not a Debian system?"
# shellcheck source=/dev/null
read -r OS_ID CODENAME < <(. /etc/os-release && printf '%s %s\n' "${ID:-?}" "${VERSION_CODENAME:-?}")
[[ "$OS_ID" == debian ]] || die "this script supports Debian only (found ID=$OS_ID)"
[[ "$CODENAME" == bookworm ]] || log "warning: written for bookworm, found '$CODENAME'; trying anyway"

BPO_SUITE="${CODENAME}-backports"
BPO_DIR="${BPO_DIR:-/tmp/plainsight-bpo}"
export DEBIAN_FRONTEND=noninteractive
APT_QUIET=(-y -q -o Dpkg::Use-Pty=0)

have_pkg() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }

suricata_major() {
    command -v suricata >/dev/null 2>&1 || { echo 0; return; }
    suricata -V 2>/dev/null | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n1
}

# ---------------------------------------------------------------- main archive
MAIN_PKGS=(tshark libndpi-bin time util-linux wireshark-common)
missing=()
for p in "${MAIN_PKGS[@]}"; do have_pkg "$p" || missing+=("$p"); done

if ((${#missing[@]})); then
    log "installing from the system's sources: ${missing[*]}"
    # tshark pulls wireshark-common, which asks whether non-root users may capture.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' \
        | "${SUDO[@]}" debconf-set-selections
    lists_age=$(( $(date +%s) - $(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0) ))
    if (( FORCE_UPDATE || lists_age > 86400 )) \
        || ! apt-cache show "${missing[0]}" >/dev/null 2>&1; then
        "${SUDO[@]}" apt-get update -q || die "apt-get update failed (network to the Debian mirror?)"
    fi
    "${SUDO[@]}" apt-get install "${APT_QUIET[@]}" --no-install-recommends "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed"
else
    log "tshark, libndpi-bin, time, util-linux already installed"
fi

# ---------------------------------------------------------- suricata (backports)
if [[ "$(suricata_major)" -ge 7 ]]; then
    log "suricata already installed: $(suricata -V 2>/dev/null | head -n1)"
else
    log "installing suricata from $BPO_SUITE through a temporary sources file in $BPO_DIR"
    # Collect "deb [signed-by=K] URI SUITE COMPONENTS" lines from the system's sources.
    lines=()
    # One-line format.
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r "$f" ]] || continue
        while IFS= read -r l; do
            [[ "$l" =~ ^[[:space:]]*deb[[:space:]] ]] && lines+=("${l#"${l%%[![:space:]]*}"}")
        done <"$f"
    done
    # deb822 format: paragraphs separated by blank lines.
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] || continue
        while IFS= read -r l; do lines+=("$l"); done < <(awk '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && uris != "" && suites != "" && enabled != "no") {
                    n = split(uris, u, " "); m = split(suites, s, " ")
                    opt = (signed != "") ? "[signed-by=" signed "] " : ""
                    for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
                        print "deb " opt u[i] " " s[j] " " comps
                }
                types = uris = suites = comps = signed = enabled = ""
            }
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { flush(); next }
            {
                key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^[[:space:]]+/, "")
                if (key == "types") types = $0
                else if (key == "uris") uris = $0
                else if (key == "suites") suites = $0
                else if (key == "components") comps = $0
                else if (key == "signed-by") signed = $0
                else if (key == "enabled") enabled = tolower($0)
            }
            END { flush() }' "$f")
    done
    ((${#lines[@]})) || die "no 'deb' sources found in /etc/apt/sources.list{,.d}"

    # The backports suite goes on the mirror (and with the keyring) that serves the main suite.
    main_line=""
    for l in "${lines[@]}"; do
        read -ra f <<<"$l"
        i=1 # f[0] is "deb"; skip an "[options]" block
        if [[ "${f[1]}" == "["* ]]; then
            while [[ "${f[i]}" != *"]" ]]; do i=$((i + 1)); done
            i=$((i + 1))
        fi
        if [[ "${f[i + 1]:-}" == "$CODENAME" ]]; then main_line="$l"; break; fi
    done
    [[ -n "$main_line" ]] || die "no source for suite '$CODENAME' found: cannot derive the mirror for $BPO_SUITE"
    # Replace the suite field (the one after the URI) with the backports suite.
    bpo_line=$(awk -v suite="$BPO_SUITE" '{
        i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        $(i + 1) = suite; print }' <<<"$main_line")

    mkdir -p "$BPO_DIR/etc" "$BPO_DIR/lists/partial"
    { printf '%s\n' "${lines[@]}"; printf '%s\n' "$bpo_line"; } >"$BPO_DIR/etc/sources.list"
    log "temporary sources ($BPO_DIR/etc/sources.list):"
    sed 's/^/    /' "$BPO_DIR/etc/sources.list" >&2
    APT_BPO=(-o "Dir::Etc::SourceList=$BPO_DIR/etc/sources.list"
             -o "Dir::Etc::SourceParts=$BPO_DIR/etc/sources.list.d"
             -o "Dir::State::Lists=$BPO_DIR/lists")
    mkdir -p "$BPO_DIR/etc/sources.list.d"
    "${SUDO[@]}" apt-get "${APT_BPO[@]}" update -q \
        || die "apt-get update with the temporary sources failed"
    "${SUDO[@]}" apt-get "${APT_BPO[@]}" install "${APT_QUIET[@]}" -t "$BPO_SUITE" suricata \
        || die "apt-get install -t $BPO_SUITE suricata failed"
    # The benchmark runs suricata by hand; the packaged service is not needed.
    if command -v systemctl >/dev/null 2>&1; then
        if [[ -d /run/systemd/system ]]; then
            "${SUDO[@]}" systemctl disable --now suricata >/dev/null 2>&1 || true
        else
            "${SUDO[@]}" systemctl disable suricata >/dev/null 2>&1 || true
        fi
    fi
    [[ "$(suricata_major)" -ge 7 ]] || die "suricata >= 7 expected after install, got: $(suricata -V 2>&1 | head -n1)"
fi

# ---------------------------------------------------------------------- check
for c in tshark ndpiReader suricata mergecap taskset /usr/bin/time; do
    command -v "$c" >/dev/null 2>&1 || die "$c not found after install"
done
log "ok: $(suricata -V 2>/dev/null | head -n1)"
log "ok: $(tshark --version 2>/dev/null | head -n1)"
log "ok: ndpiReader $(dpkg-query -W -f='${Version}' libndpi-bin)"
