#!/bin/sh
# Records the mTLS fixture captures of tests/corpus/local/mtls/ (see its README.md).
# Needs root, openssl, curl, tcpdump, go (Debian golang-go) and the rustls client
# (cargo build -p plainsight-tests --bin mtls-client). Lab keys are generated afresh in a
# temporary directory and deleted at the end: nothing secret is kept.
# Usage: record.sh OUT_DIR RUSTLS_CLIENT
set -eu
OUT=$(realpath "$1"); RUSTLS=$(realpath "$2")
HERE=$(dirname "$(realpath "$0")")
T=$(mktemp -d /tmp/mt-rec.XXXXXX)
C=mt-rec-c; S=mt-rec-s; CIP=10.224.0.1; SIP=10.224.0.2; SNI=server.mt.test
cleanup() {
  ip netns pids $S 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns pids $C 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del $C 2>/dev/null || true; ip netns del $S 2>/dev/null || true; rm -rf "$T"
}
trap cleanup EXIT
cleanup 2>/dev/null || true; T=$(mktemp -d /tmp/mt-rec.XXXXXX)
ip netns add $C; ip netns add $S
ip link add mtrec-c netns $C type veth peer name mtrec-s netns $S
ip -n $C addr add $CIP/24 dev mtrec-c; ip -n $S addr add $SIP/24 dev mtrec-s
ip -n $C link set mtrec-c up; ip -n $S link set mtrec-s up
ip -n $C link set lo up; ip -n $S link set lo up
# Whole segments as the application wrote them (no GRO/TSO merging on the veth).
ip netns exec $C ethtool -K mtrec-c tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec $S ethtool -K mtrec-s tso off gso off gro off >/dev/null 2>&1 || true

cd "$T"
GOCLIENT=$T/goclient
HOME=$T GOCACHE=$T/gocache GO111MODULE=off go build -o "$GOCLIENT" "$HERE/goclient.go"
ossl() { openssl "$@" 2>/dev/null; }
ossl ecparam -name prime256v1 -genkey -noout -out ca.key
ossl req -x509 -new -key ca.key -subj "/CN=mt lab CA" -days 30 -out ca.pem
leaf() { # name keyspec subject san
  case $2 in rsa) ossl genrsa -out $1.key 2048 ;; ec) ossl ecparam -name prime256v1 -genkey -noout -out $1.key ;; esac
  ossl req -new -key $1.key -subj "$3" -out $1.csr
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$4" "$5" > $1.ext
  ossl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile $1.ext -out $1.pem
}
leaf server ec "/CN=$SNI" "DNS:$SNI" serverAuth
leaf crsa rsa "/O=mt lab/CN=client-rsa" "URI:spiffe://mt.test/ns/default/sa/client-rsa,DNS:client-rsa.mt.test" clientAuth
leaf cec ec "/O=mt lab/CN=client-ec" "URI:spiffe://mt.test/ns/default/sa/client-ec" clientAuth

srv() { # port extra...
  p=$1; shift
  ip netns exec $S openssl s_server -quiet -accept $p -cert server.pem -key server.key -CAfile ca.pem -www "$@" >/dev/null 2>&1 &
}
srv 24001                 # plain TLS: no CertificateRequest
srv 24002 -Verify 1       # mTLS required
srv 24003 -verify 1       # mTLS requested, optional
sleep 1

rec() { # name command...
  n=$1; shift
  ip netns exec $C tcpdump -q -U -s 0 -i mtrec-c -w "$OUT/$n.pcap" tcp portrange 24001-24003 2>/dev/null &
  tp=$!; sleep 0.5
  ip netns exec $C "$@" </dev/null >/dev/null 2>&1 || true
  sleep 0.5; kill -INT $tp; wait $tp 2>/dev/null || true
  echo "$n: $*" >> "$OUT/commands.txt"
}
A=$SIP; get='GET / HTTP/1.0'
sc() { # port version certargs...: an openssl s_client command line
  p=$1; v=$2; shift 2
  printf '%s\n' "printf '$get\\r\\n\\r\\n' | openssl s_client -quiet -connect $A:$p -servername $SNI -CAfile ca.pem -$v $*"
}
sc_resume() { # the same twice, the second resuming the first's session
  p=$1; v=$2; shift 2
  printf '%s\n' "$(sc $p $v -sess_out sess.$v "$@"); $(sc $p $v -sess_in sess.$v "$@")"
}
: > "$OUT/commands.txt"
RSA="-cert crsa.pem -key crsa.key"; EC="-cert cec.pem -key cec.key"
for v in tls1_3 tls1_2; do
  t=$(echo $v | tr -d _)
  rec $t-openssl-none sh -c "$(sc 24001 $v)"
  rec $t-openssl-rsa sh -c "$(sc 24002 $v $RSA)"
  rec $t-openssl-ec sh -c "$(sc 24002 $v $EC)"
  rec $t-openssl-nocert-optional sh -c "$(sc 24003 $v)"
  rec $t-openssl-nocert-required sh -c "$(sc 24002 $v)"
  rec $t-openssl-rsa-resumed sh -c "$(sc_resume 24002 $v $RSA)"
  cv=--tlsv1.3; [ $v = tls1_2 ] && cv="--tlsv1.2 --tls-max 1.2"
  rec $t-curl-none curl -s -o /dev/null $cv --cacert ca.pem --resolve $SNI:24001:$A https://$SNI:24001/
  rec $t-curl-rsa-twice curl -s -o /dev/null $cv --cacert ca.pem --cert crsa.pem --key crsa.key --resolve $SNI:24002:$A https://$SNI:24002/ https://$SNI:24002/
  rec $t-curl-ec curl -s -o /dev/null $cv --cacert ca.pem --cert cec.pem --key cec.key --resolve $SNI:24003:$A https://$SNI:24003/
  rv=; [ $v = tls1_2 ] && rv=--tls12
  rec $t-rustls-none "$RUSTLS" $A:24001 $SNI ca.pem $rv
  rec $t-rustls-rsa "$RUSTLS" $A:24002 $SNI ca.pem --cert crsa.pem --key crsa.key $rv
  rec $t-rustls-ec-twice "$RUSTLS" $A:24002 $SNI ca.pem --cert cec.pem --key cec.key --twice $rv
  rec $t-rustls-nocert-optional "$RUSTLS" $A:24003 $SNI ca.pem $rv
  gv=; [ $v = tls1_2 ] && gv=-tls12
  rec $t-go-none "$GOCLIENT" -addr $A:24001 -sni $SNI -ca ca.pem $gv
  rec $t-go-rsa-twice "$GOCLIENT" -addr $A:24002 -sni $SNI -ca ca.pem -cert crsa.pem -key crsa.key -twice $gv
  rec $t-go-ec "$GOCLIENT" -addr $A:24002 -sni $SNI -ca ca.pem -cert cec.pem -key cec.key $gv
  rec $t-go-nocert-optional "$GOCLIENT" -addr $A:24003 -sni $SNI -ca ca.pem $gv
done
