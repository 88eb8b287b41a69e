#!/usr/bin/env bash
# Records the link-type fixtures of this folder (see README.md): real clients and servers
# in two network namespaces joined by a veth pair, captured with tcpdump as a Linux user
# would capture them. Run as root from this folder; it removes what it creates.
#   lk-c (10.244.44.1, fd44::1)  <-- veth -->  lk-s (10.244.44.2, fd44::2)
#   lk-s: HTTP on 24480 (python3 -m http.server), TLS on 24443 (openssl s_server -www)
#   a socat tunnel over UDP 24490 between two tun devices (lk-tun: 10.244.45.1 <-> .2)
set -euo pipefail
out=$(pwd)
tmp=$(mktemp -d)
cleanup() {
    jobs -p | xargs -r kill 2>/dev/null || true
    wait 2>/dev/null || true
    ip netns del lk-c 2>/dev/null || true
    ip netns del lk-s 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
C="ip netns exec lk-c"
S="ip netns exec lk-s"
ip netns add lk-c
ip netns add lk-s
ip link add lk-c0 netns lk-c type veth peer name lk-s0 netns lk-s
$C ip link set lo up
$S ip link set lo up
$C ip addr add 10.244.44.1/24 dev lk-c0
$S ip addr add 10.244.44.2/24 dev lk-s0
$C ip addr add fd44::1/64 dev lk-c0 nodad
$S ip addr add fd44::2/64 dev lk-s0 nodad
$C ip link set lk-c0 up
$S ip link set lk-s0 up
# Lab-only key for the TLS server; it protects nothing and is deleted at exit.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=lk.test -addext subjectAltName=DNS:lk.test \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
echo "hello from the lab" > "$tmp/index.html"
(cd "$tmp" && exec $S python3 -m http.server 24480 --bind :: >/dev/null 2>&1) &
$S openssl s_server -quiet -accept 24443 -key "$tmp/key.pem" -cert "$tmp/cert.pem" -www \
    >/dev/null 2>&1 &
sleep 1

# traffic: one HTTP GET over IPv4 and one over IPv6, one TLS 1.3 handshake with SNI.
# With TUN=1 only IPv4 through the tunnel.
traffic() {
    if [ "${TUN:-}" = 1 ]; then
        $C curl -s -o /dev/null http://10.244.45.2:24480/index.html
        $C curl -s -o /dev/null -k --resolve lk.test:24443:10.244.45.2 https://lk.test:24443/
        return
    fi
    $C curl -s -o /dev/null http://10.244.44.2:24480/index.html
    $C curl -s -o /dev/null -g "http://[fd44::2]:24480/index.html"
    $C curl -s -o /dev/null -k --resolve lk.test:24443:10.244.44.2 https://lk.test:24443/
}

# capture NAME NETNS TCPDUMP-ARGS...: start tcpdump, run the traffic, stop it.
capture() {
    local name=$1 ns=$2
    shift 2
    ip netns exec "$ns" tcpdump -s 0 -U -w "$out/$name" "$@" 2>/dev/null &
    local pid=$!
    sleep 1
    traffic
    sleep 1
    kill -INT "$pid"
    wait "$pid" || true
}

capture sll.pcap lk-c -i any -y LINUX_SLL 'tcp port 24480 or tcp port 24443'
capture sll2.pcap lk-c -i any -y LINUX_SLL2 'tcp port 24480 or tcp port 24443'

# NFLOG: the server's netfilter logs both directions of each flow to group 44.
for ipt in iptables ip6tables; do
    $S $ipt -A INPUT -p tcp -m multiport --dports 24480,24443 -j NFLOG --nflog-group 44
    $S $ipt -A OUTPUT -p tcp -m multiport --sports 24480,24443 -j NFLOG --nflog-group 44
done
capture nflog.pcap lk-s -i nflog:44

# Raw IP: a tun device (libpcap gives LINKTYPE_RAW for it), carried by socat over UDP.
$S socat UDP-LISTEN:24490,bind=10.244.44.2 \
    TUN:10.244.45.2/24,tun-name=lk-tun,iff-up,iff-no-pi >/dev/null 2>&1 &
sleep 0.5
$C socat UDP:10.244.44.2:24490,bind=10.244.44.1:24491 \
    TUN:10.244.45.1/24,tun-name=lk-tun,iff-up,iff-no-pi >/dev/null 2>&1 &
sleep 1
TUN=1 capture raw.pcap lk-c -i lk-tun
