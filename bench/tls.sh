#!/bin/sh
# bench/tls.sh — HTTPS throughput of atto beside nginx, same machine, same
# certificate (atto's development certificate, ECDSA P-256), same static file,
# same number of workers. Prints requests per second and atto/nginx ratios:
#
#   handshakes   new TLS connection per request (ab without keep-alive:
#                a full handshake, one GET, close) — TLS 1.3 and TLS 1.2
#   keep-alive   wrk over persistent TLS connections, small file
#   reference    `ab -n 1000 -c 10` over TLS 1.2, the number the old PHP
#                server was measured with (53.63 requests per second)
#
#   ATTO=./atto N=2000 C=16 DURATION=5 WORKERS=2 REPEAT=3 bench/tls.sh
#
# Needs ab (apache2-utils), wrk, nginx (tools/deps.sh bench). Everything runs
# in a temporary folder that is removed at the end; only 127.0.0.1 is bound.
set -eu
cd "$(dirname "$0")/.."
ATTO=${ATTO:-./atto}
N=${N:-2000}
C=${C:-16}
DURATION=${DURATION:-5}
WORKERS=${WORKERS:-2}
REPEAT=${REPEAT:-3}
NGINX=${NGINX:-/usr/sbin/nginx}

for tool in ab wrk "$NGINX" "$ATTO"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench/tls.sh: $tool not found (tools/deps.sh bench; make atto)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/atto-bench-tls.XXXXXX)
atto_pid= nginx_pid=
cleanup() {
    [ -n "$atto_pid" ] && kill "$atto_pid" 2>/dev/null && wait "$atto_pid" 2>/dev/null
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    i=0
    while ! /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 100 ] && { echo "bench/tls.sh: nothing listens on $1" >&2; exit 1; }
        sleep 0.1
    done
}

# -- the site: one small static file, served by both ----------------------------
site=$tmp/site
mkdir -p "$site/public"
printf 'site:get("/hello", function(req, res) res:text("Hello") end)\n' > "$site/index.lua"
printf 'Hello, TLS benchmark!\n' > "$site/public/small.txt"
chmod a+rx "$tmp" "$site" "$site/public"   # nginx workers may run as nobody
FILE=/small.txt

# -- atto (it makes the development certificate on start) -----------------------
atto_port=$(free_port)
"$ATTO" "$site" --https "$atto_port" --http 0 --smtp 0 --submission 0 --imap 0 --pop3 0 \
    --gopher 0 --workers "$WORKERS" > "$tmp/atto.log" 2>&1 &
atto_pid=$!
wait_port "$atto_port"

# -- nginx with the same certificate --------------------------------------------
nginx_port=$(free_port)
mkdir -p "$tmp/nginx"
cat > "$tmp/nginx/nginx.conf" <<EOF
worker_processes $WORKERS;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:$nginx_port ssl;
        ssl_certificate $site/.atto/cert.pem;
        ssl_certificate_key $site/.atto/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        root $site/public;
    }
}
EOF
"$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
nginx_pid=$!
wait_port "$nginx_port"

for port in "$atto_port" "$nginx_port"; do
    body=$(curl -sSk --http1.1 "https://127.0.0.1:$port$FILE")
    [ "$body" = "Hello, TLS benchmark!" ] || { echo "bench/tls.sh: port $port answered '$body'" >&2; exit 1; }
done

# -- measurements ------------------------------------------------------------------
# Each measurement prints "REQUESTS_PER_SECOND REQUESTS".
ab_rps() {   # ab_rps PORT N C [ab options...]
    port=$1 n=$2 c=$3; shift 3
    out=$(ab -q -n "$n" -c "$c" "$@" "https://127.0.0.1:$port$FILE" 2>&1) || { echo "$out" >&2; exit 1; }
    fails=$(echo "$out" | awk '/^Failed requests:/ {print $3}')
    [ "${fails:-1}" = 0 ] || { echo "bench/tls.sh: ab saw failed requests on $port:" >&2; echo "$out" >&2; exit 1; }
    echo "$out" | awk -v n="$n" '/^Requests per second:/ {print $4, n}'
}
wrk_rps() {  # wrk_rps PORT
    out=$(wrk -t2 -c64 -d"${DURATION}s" "https://127.0.0.1:$1$FILE" 2>&1)
    if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then echo "$out" >&2; fi
    echo "$out" | awk '/requests in/ {n = $1} /^Requests\/sec:/ {r = $2} END {print r, n}'
}
handshakes() { ab_rps "$1" "$N" "$C"; }
handshakes12() { ab_rps "$1" "$N" "$C" -f TLS1.2; }
reference() { ab_rps "$1" 1000 10 -f TLS1.2; }

# CPU ticks (user + system) used so far by a server: its master and the
# workers (both servers run worker processes under a master).
ticks() {
    if [ "$1" = atto ]; then m=$atto_pid; else m=$nginx_pid; fi
    pids="$m $(cat /proc/$m/task/$m/children 2>/dev/null)"
    for p in $pids; do cat "/proc/$p/stat"; done | awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t }'
}
# measure SIDE FUNCTION -> "RPS CPU_MICROSECONDS_PER_REQUEST"
measure() {
    if [ "$1" = atto ]; then port=$atto_port; else port=$nginx_port; fi
    t0=$(ticks "$1")
    r=$("$2" "$port")
    t1=$(ticks "$1")
    echo "$r" | awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" '{ printf "%s %.1f\n", $1, (b - a) / hz * 1e6 / $2 }'
}
# Best of REPEAT runs, atto and nginx alternating (highest rate, lowest CPU
# per request), so a burst of other load on the machine hits both alike.
# CPU per request is the steadier number on a busy machine.
best() {     # best NAME FUNCTION
    ra=0 rg=0 ca=1e9 cg=1e9 i=0
    while [ $i -lt "$REPEAT" ]; do
        set -- "$1" "$2" $(measure atto "$2") $(measure nginx "$2")
        ra=$(awk -v x="$ra" -v y="$3" 'BEGIN { print (y > x ? y : x) }')
        ca=$(awk -v x="$ca" -v y="$4" 'BEGIN { print (y < x ? y : x) }')
        rg=$(awk -v x="$rg" -v y="$5" 'BEGIN { print (y > x ? y : x) }')
        cg=$(awk -v x="$cg" -v y="$6" 'BEGIN { print (y < x ? y : x) }')
        i=$((i + 1))
    done
    awk -v n="$1" -v ra="$ra" -v rg="$rg" -v ca="$ca" -v cg="$cg" 'BEGIN {
        printf "%-36s %9.0f %9.0f %6.2f   %7.1f %7.1f %6.2f\n", n, ra, rg, ra / rg, ca, cg, ca / cg }'
}

ab -q -n 200 -c 8 "https://127.0.0.1:$atto_port$FILE" >/dev/null 2>&1 || true   # warm up
ab -q -n 200 -c 8 "https://127.0.0.1:$nginx_port$FILE" >/dev/null 2>&1 || true

echo "HTTPS, $WORKERS workers each, $(nproc) cores, client on the same machine, best of $REPEAT"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-36s %9s %9s %6s   %7s %7s %6s\n' "" "req/s" "" "" "server" "CPU us/req" ""
printf '%-36s %9s %9s %6s   %7s %7s %6s\n' "" atto nginx ratio atto nginx ratio
best "new handshake/request (ab -c $C)" handshakes
best "  same, TLS 1.2" handshakes12
best "keep-alive (wrk -t2 -c64 ${DURATION}s)" wrk_rps
best "reference: ab -n1000 -c10 TLS1.2" reference
echo "ratios are atto/nginx: above 1 is better for req/s, below 1 is better for CPU"
echo "(the old PHP server: 53.63 requests per second on the reference line)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
