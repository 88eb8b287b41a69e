#!/bin/sh
# Records the http-redirect fixtures: real nginx and curl in two lab network namespaces
# joined by a veth pair, captured with tcpdump on the client side. Run as root from this
# folder; it removes its namespaces and temp dir when done.
set -eu
out=$(pwd)
d=$(mktemp -d /tmp/pb-rec.XXXXXX)
cleanup() {
    [ -f "$d/nginx.pid" ] && kill "$(cat "$d/nginx.pid")" 2>/dev/null || true
    ip netns del pb-rec-cli 2>/dev/null || true
    ip netns del pb-rec-srv 2>/dev/null || true
    rm -rf "$d"
}
trap cleanup EXIT
ip netns add pb-rec-cli
ip netns add pb-rec-srv
ip link add pbrec0 netns pb-rec-cli type veth peer name pbrec1 netns pb-rec-srv
ip -n pb-rec-cli addr add 10.241.0.10/24 dev pbrec0
ip -n pb-rec-srv addr add 10.241.0.20/24 dev pbrec1
ip -n pb-rec-srv addr add 10.241.0.21/24 dev pbrec1
for n in pb-rec-cli pb-rec-srv; do ip -n $n link set lo up; done
ip -n pb-rec-cli link set pbrec0 up
ip -n pb-rec-srv link set pbrec1 up
# No offloads: segments on the wire as a real NIC would send them.
ip netns exec pb-rec-cli ethtool -K pbrec0 tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec pb-rec-srv ethtool -K pbrec1 tso off gso off gro off >/dev/null 2>&1 || true
mkdir -p "$d/tmp"
cat > "$d/nginx.conf" <<CONF
daemon on;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $d/tmp; proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp;
  uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
  default_type text/html;
  # Serves its page over plain HTTP.
  server { listen 10.241.0.20:80; server_name content.lab.test;
    location / { return 200 "<html><body>content over plain HTTP</body></html>\n"; } }
  # Sends every plain-HTTP request to HTTPS, except /page (for the keep-alive capture).
  server { listen 10.241.0.21:80; server_name redirect.lab.test;
    location / { return 301 https://redirect.lab.test\$request_uri; }
    location = /page { return 200 "<html><body>one page left on HTTP</body></html>\n"; } }
}
CONF
ip netns exec pb-rec-srv nginx -c "$d/nginx.conf" -p "$d"
sleep 0.5
cap() { # name, curl args...
    name=$1; shift
    ip netns exec pb-rec-cli tcpdump -Z root --immediate-mode -i pbrec0 -U -w "$out/$name" -s 0 tcp port 80 2>"$d/$name.log" &
    tp=$!
    until grep -q listening "$d/$name.log" 2>/dev/null; do sleep 0.1; done; sleep 1
    ip netns exec pb-rec-cli curl -sS -o /dev/null "$@"
    sleep 1
    kill -INT $tp; wait $tp || true
    cat "$d/$name.log" >&2
}
cap nginx-content.pcap -H 'Host: content.lab.test' http://10.241.0.20/
cap nginx-redirect.pcap -H 'Host: redirect.lab.test' http://10.241.0.21/login
cap nginx-redirect-then-content.pcap -H 'Host: redirect.lab.test' http://10.241.0.21/ http://10.241.0.21/page
