#!/usr/bin/env bash
# Development harness (not part of npm test): drives the datapath without the TypeScript loader, with
# a small C loader and raw map writes, across three checksum-offload setups. The e2e suite covers the same
# ground through the real CLI (checksum setups, loss and re-injection: test/e2e/tcp-loss-checksum.test.ts
# and test/e2e/tcp-matrix.test.ts); this stays for debugging the datapath in isolation.
# Datapath smoke test (development harness; the lead ports it to the TypeScript e2e suite with the real loader).
#
#   client ns  c0 ── bc0  balancer ns  bs0 ── s0  backend ns (nginx)
#   192.0.2.2/24    192.0.2.1   198.51.100.1   198.51.100.2/24
#   2001:db8:c::2   ::1         2001:db8:b::1  2001:db8:b::2
#   VIPs 203.0.113.10 (fullnat) / .11 (dnat), 2001:db8:f::10 / ::11; port 80 plain, port 81 PPv2.
#
# Loads bpf/build/lbctl.bpf.o with a small libbpf loader (test/dev/tc-load.c) on both balancer
# interfaces, pins the maps under a private bpffs mount, fills them with bpftool (records encoded by
# src/bpf/records.ts through test/dev/lbmap.ts), then for each checksum setup
#   default  veth defaults (CHECKSUM_PARTIAL and GSO through the balancer)
#   partial  senders offload (PARTIAL into the balancer), balancer tx off (checksums completed from
#            csum_start on the way out), receivers rx off (their stacks verify)
#   none     senders compute checksums (CHECKSUM_NONE into the balancer), receivers verify
# and for both families, both modes, with and without PPv2: a small GET (nginx log must show the client's
# address and port), a 20 MB download and a 20 MB upload (sha256 must match). Counts TCP checksum errors in
# the client and backend namespaces, and in partial/none checks every packet the backend receives with tshark.
#
# Options (environment): SMOKE_MODES="default partial none", SMOKE_BIG_MB=20, KEEP=1 (keep the work dir).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "datapath-smoke: needs root (network namespaces, bpf)" >&2; exit 1; }
for tool in ip bpftool nginx curl ethtool nstat tshark gcc sha256sum; do
  command -v "$tool" >/dev/null || { echo "datapath-smoke: missing $tool" >&2; exit 1; }
done

bash "$root/scripts/build-bpf.sh" >/dev/null
OBJ="$root/bpf/build/lbctl.bpf.o"
MODES=${SMOKE_MODES:-default partial none}
BIG_MB=${SMOKE_BIG_MB:-20}

ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NC=lbc-$ID NB=lbb-$ID NS=lbs-$ID
WORK=$(mktemp -d "/tmp/lbsmoke-$ID.XXXX")
PIN=$WORK/bpf
NGINX_PID=
CAP_PID=
EV_PID=
pass=0 fail=0

cleanup() {
  set +e
  [ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null && wait "$CAP_PID" 2>/dev/null
  [ -n "$EV_PID" ] && kill "$EV_PID" 2>/dev/null && wait "$EV_PID" 2>/dev/null
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  for ns in "$NC" "$NB" "$NS"; do ip netns del "$ns" 2>/dev/null; done
  mountpoint -q "$PIN" && umount "$PIN"
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
inc() { ip netns exec "$NC" "$@"; }
inb() { ip netns exec "$NB" "$@"; }
ins() { ip netns exec "$NS" "$@"; }

# --- topology -------------------------------------------------------------------------------------------
for ns in "$NC" "$NB" "$NS"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add c0 netns "$NC" type veth peer name bc0 netns "$NB"
ip link add s0 netns "$NS" type veth peer name bs0 netns "$NB"
ip -n "$NC" addr add 192.0.2.2/24 dev c0
ip -n "$NC" addr add 2001:db8:c::2/64 dev c0 nodad
ip -n "$NB" addr add 192.0.2.1/24 dev bc0
ip -n "$NB" addr add 2001:db8:c::1/64 dev bc0 nodad
ip -n "$NB" addr add 198.51.100.1/24 dev bs0
ip -n "$NB" addr add 2001:db8:b::1/64 dev bs0 nodad
ip -n "$NS" addr add 198.51.100.2/24 dev s0
ip -n "$NS" addr add 2001:db8:b::2/64 dev s0 nodad
for pair in "$NC c0" "$NB bc0" "$NB bs0" "$NS s0"; do set -- $pair; ip -n "$1" link set "$2" up; done
ip -n "$NC" route add default via 192.0.2.1
ip -n "$NC" -6 route add default via 2001:db8:c::1
ip -n "$NS" route add default via 198.51.100.1 # dnat replies go back through the balancer
ip -n "$NS" -6 route add default via 2001:db8:b::1
inb sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

# --- datapath --------------------------------------------------------------------------------------------
mkdir -p "$PIN" && mount -t bpf bpf "$PIN"
gcc -O2 -Wall -o "$WORK/tc-load" "$root/test/dev/tc-load.c" -lbpf
inb "$WORK/tc-load" "$OBJ" "$PIN" bc0 bs0

TLV_HEX=e0000b6c6263746c2d736d6f6b65 # type 0xE0, 11 bytes "lbctl-smoke"
svc() { # id vip port mode ppv2 snat backend
  local ppv2=false
  [ "$5" = ppv2 ] && ppv2=true
  printf '{"id":%s,"vip":"%s","port":%s,"mode":"%s","ppv2":%s,"uniqueId":%s,"crc32c":%s,"tlvsHex":"%s","snat":"%s","backends":[{"id":%s,"addr":"%s","port":%s}]}' \
    "$1" "$2" "$3" "$4" "$ppv2" "$ppv2" "$ppv2" "$([ "$ppv2" = true ] && echo $TLV_HEX)" "$6" "$1" "$7" "$([ "$ppv2" = true ] && echo 8080 || echo 8081)"
}
cat >"$WORK/spec.json" <<EOF
{"bootId":"0x0102030405060708","events":true,"services":[
 $(svc 1 203.0.113.10 80 fullnat plain 198.51.100.1 198.51.100.2),
 $(svc 2 203.0.113.11 80 dnat plain "" 198.51.100.2),
 $(svc 3 203.0.113.10 81 fullnat ppv2 198.51.100.1 198.51.100.2),
 $(svc 4 203.0.113.11 81 dnat ppv2 "" 198.51.100.2),
 $(svc 5 2001:db8:f::10 80 fullnat plain 2001:db8:b::1 2001:db8:b::2),
 $(svc 6 2001:db8:f::11 80 dnat plain "" 2001:db8:b::2),
 $(svc 7 2001:db8:f::10 81 fullnat ppv2 2001:db8:b::1 2001:db8:b::2),
 $(svc 8 2001:db8:f::11 81 dnat ppv2 "" 2001:db8:b::2)
]}
EOF
sed -i 's/"snat":""/"snat":null/g' "$WORK/spec.json"
(cd "$root" && node --import tsx test/dev/lbmap.ts batch "$PIN" <"$WORK/spec.json" >"$WORK/maps.batch")
# one bpftool call per update: a Maglev ring (16 KiB) is longer than a `bpftool batch` line may be
while read -r line; do
  # shellcheck disable=SC2086
  bpftool $line
done <"$WORK/maps.batch"

# every event from here on, checked at the end
"$WORK/tc-load" --events "$PIN/lb_events" 3600 >"$WORK/events.hex" &
EV_PID=$!

# --- backend: nginx --------------------------------------------------------------------------------------
chmod 755 "$WORK"
mkdir -p "$WORK/www/up" "$WORK/tmp" "$WORK/logs"
chmod 777 "$WORK/www/up" "$WORK/tmp" "$WORK/logs"
head -c $((BIG_MB * 1024 * 1024)) /dev/urandom >"$WORK/www/big.bin"
echo hello >"$WORK/www/small.txt"
BIG_SHA=$(sha256sum <"$WORK/www/big.bin" | cut -d' ' -f1)
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log;
events { worker_connections 256; }
http {
  client_body_temp_path $WORK/tmp/body; proxy_temp_path $WORK/tmp/proxy; fastcgi_temp_path $WORK/tmp/fcgi;
  uwsgi_temp_path $WORK/tmp/uwsgi; scgi_temp_path $WORK/tmp/scgi;
  client_max_body_size 256m;
  log_format pp '\$proxy_protocol_addr:\$proxy_protocol_port \$remote_addr:\$remote_port "\$request" \$status';
  log_format plain '- \$remote_addr:\$remote_port "\$request" \$status';
  server {
    listen 198.51.100.2:8080 proxy_protocol; listen [2001:db8:b::2]:8080 proxy_protocol;
    access_log $WORK/logs/pp.log pp; root $WORK/www;
    location /up/ { dav_methods PUT; create_full_put_path on; }
  }
  server {
    listen 198.51.100.2:8081; listen [2001:db8:b::2]:8081;
    access_log $WORK/logs/plain.log plain; root $WORK/www;
    location /up/ { dav_methods PUT; create_full_put_path on; }
  }
}
EOF
# `ip netns exec` execs nginx, so $! is nginx's own PID (a shell function would add a subshell)
ip netns exec "$NS" nginx -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
for _ in $(seq 50); do ins bash -c 'exec 3<>/dev/tcp/198.51.100.2/8081' 2>/dev/null && break; sleep 0.1; done

# --- checks ----------------------------------------------------------------------------------------------
set_offloads() { # mode
  local tx_snd=on rx_rcv=on tx_lb=on rx_lb=on
  case $1 in
  default) ;;
  partial) tx_lb=off rx_rcv=off ;;
  none) tx_snd=off rx_lb=off rx_rcv=off ;;
  esac
  inc ethtool -K c0 tx "$tx_snd" rx "$rx_rcv" >/dev/null 2>&1
  ins ethtool -K s0 tx "$tx_snd" rx "$rx_rcv" >/dev/null 2>&1
  inb ethtool -K bc0 tx "$tx_lb" rx "$rx_lb" >/dev/null 2>&1
  inb ethtool -K bs0 tx "$tx_lb" rx "$rx_lb" >/dev/null 2>&1
}

port=40000
url_host() { case $1 in *:*) echo "[$1]" ;; *) echo "$1" ;; esac; }

run_case() { # setup family vip mode ppv2|plain
  local setup=$1 fam=$2 vip=$3 mode=$4 kind=$5
  local vport=80 log=$WORK/logs/plain.log client=192.0.2.2 snat=198.51.100.1 name
  [ "$kind" = ppv2 ] && vport=81 log=$WORK/logs/pp.log
  [ "$fam" = 6 ] && client=2001:db8:c::2 snat=2001:db8:b::1
  name="$setup v$fam $mode $kind"
  local base="http://$(url_host "$vip"):$vport"
  port=$((port + 1))
  local out
  if ! out=$(inc curl -sS --max-time 10 --local-port "$port" -o /dev/null -w '%{http_code}' "$base/small.txt" 2>&1) ||
    [ "$out" != 200 ]; then
    bad "$name: GET small.txt ($out)"
    return
  fi
  sleep 0.2 # nginx writes the access log after the response
  local seen
  seen=$(grep -F "\"GET /small.txt" "$log" | grep -F ":$port" | tail -1 || true)
  local want_src=$client
  [ "$mode" = fullnat ] && want_src=$snat
  if [ "$kind" = ppv2 ]; then
    if [[ "$seen" == "$client:$port $want_src:"* ]]; then ok "$name: PROXY header carried $client:$port"
    else bad "$name: nginx log '$seen', want '$client:$port $want_src:...'"; fi
  else
    if [[ "$seen" == "- $want_src:"* ]]; then ok "$name: backend saw source $want_src"
    else bad "$name: nginx log '$seen', want source $want_src"; fi
  fi
  port=$((port + 1))
  rm -f "$WORK/dl.bin"
  if inc curl -sS --max-time 60 --local-port "$port" -o "$WORK/dl.bin" "$base/big.bin" &&
    [ "$(sha256sum <"$WORK/dl.bin" | cut -d' ' -f1)" = "$BIG_SHA" ]; then ok "$name: ${BIG_MB} MB download sha256"
  else bad "$name: ${BIG_MB} MB download"; fi
  port=$((port + 1))
  local up="up/$setup-$fam-$mode-$kind.bin"
  if inc curl -sS --max-time 60 --local-port "$port" -o /dev/null -T "$WORK/www/big.bin" "$base/$up" &&
    [ -f "$WORK/www/$up" ] && [ "$(sha256sum <"$WORK/www/$up" | cut -d' ' -f1)" = "$BIG_SHA" ]; then
    ok "$name: ${BIG_MB} MB upload sha256"
  else bad "$name: ${BIG_MB} MB upload"; fi
  rm -f "$WORK/www/$up"
}

csum_errors() { # ns
  ip netns exec "$1" nstat -az TcpInCsumErrors | awk '/TcpInCsumErrors/ {print $2}'
}

for setup in $MODES; do
  set_offloads "$setup"
  c0_errs=$(csum_errors "$NC") s0_errs=$(csum_errors "$NS")
  if [ "$setup" != default ]; then
    ip netns exec "$NS" tshark -q -i s0 -f 'tcp and dst portrange 8080-8081' -s 128 -w "$WORK/cap-$setup.pcapng" >/dev/null 2>&1 &
    CAP_PID=$!
    sleep 1.5
  fi
  for fam in 4 6; do
    for mode in fullnat dnat; do
      for kind in plain ppv2; do
        vip=203.0.113.10
        [ "$mode" = dnat ] && vip=203.0.113.11
        [ "$fam" = 6 ] && { vip=2001:db8:f::10; [ "$mode" = dnat ] && vip=2001:db8:f::11; }
        run_case "$setup" "$fam" "$vip" "$mode" "$kind"
      done
    done
  done
  if [ "$(csum_errors "$NC")" = "$c0_errs" ] && [ "$(csum_errors "$NS")" = "$s0_errs" ]; then
    ok "$setup: no TCP checksum errors in client or backend"
  else bad "$setup: TCP checksum errors (client $c0_errs -> $(csum_errors "$NC"), backend $s0_errs -> $(csum_errors "$NS"))"; fi
  if [ -n "$CAP_PID" ]; then
    sleep 1
    kill -INT "$CAP_PID" 2>/dev/null; wait "$CAP_PID" 2>/dev/null || true
    CAP_PID=
    good=$(tshark -r "$WORK/cap-$setup.pcapng" -o tcp.check_checksum:TRUE -Y 'tcp.checksum.status == 1' 2>/dev/null | wc -l)
    badc=$(tshark -r "$WORK/cap-$setup.pcapng" -o tcp.check_checksum:TRUE -Y 'tcp.checksum.status == 0' 2>/dev/null | wc -l)
    if [ "$good" -gt 0 ] && [ "$badc" = 0 ]; then ok "$setup: tshark verified $good backend-side segments, none bad"
    else bad "$setup: tshark found $badc bad checksums ($good good)"; fi
  fi
done

counter() { # name [service id]: summed over CPUs
  bpftool -j map dump pinned "$PIN/lb_stats" >"$WORK/stats.json"
  (cd "$root" && node --import tsx test/dev/lbmap.ts stats <"$WORK/stats.json") |
    node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8")); const [n,id]=process.argv.slice(1);
      console.log(((id ? s.services[id] : s.global) ?? {})[n] ?? 0)' "$1" "${2:-}"
}

# --- SNAT port collision: two clients, same source port, same backend --------------------------------------
ip -n "$NC" addr add 192.0.2.3/24 dev c0
port=$((port + 1))
before=$(counter snat_port_collision)
a=$(inc curl -sS --max-time 10 --interface 192.0.2.2 --local-port "$port" -o /dev/null -w '%{http_code}' http://203.0.113.10/small.txt?a || true)
b=$(inc curl -sS --max-time 10 --interface 192.0.2.3 --local-port "$port" -o /dev/null -w '%{http_code}' http://203.0.113.10/small.txt?b || true)
sleep 0.2
port_a=$(grep -F 'small.txt?a' "$WORK/logs/plain.log" | tail -1 | sed -E 's/^- [0-9.]+:([0-9]+) .*/\1/')
port_b=$(grep -F 'small.txt?b' "$WORK/logs/plain.log" | tail -1 | sed -E 's/^- [0-9.]+:([0-9]+) .*/\1/')
if [ "$a$b" = 200200 ] && [ "$port_a" = "$port" ] && [ -n "$port_b" ] && [ "$port_b" != "$port" ] &&
  [ "$(counter snat_port_collision)" -gt "$before" ]; then
  ok "fullnat: second client on source port $port got SNAT port $port_b"
else bad "SNAT collision: http $a/$b, backend saw ports $port_a/$port_b (client port $port)"; fi

# --- events: every injected header decodes, carries UNIQUE_ID + custom TLV, and its CRC32C checks ---------
sleep 0.5
kill "$EV_PID" 2>/dev/null; wait "$EV_PID" 2>/dev/null || true
EV_PID=
if summary=$(cd "$root" && node --import tsx test/dev/lbmap.ts check-events 0102030405060708 "$TLV_HEX" <"$WORK/events.hex"); then
  ok "events: $summary"
else bad "events: $summary"; fi

# --- conntrack drains by itself (closed connections time out after 10 s) ------------------------------------
sleep 12
left=$(bpftool -j map dump pinned "$PIN/lb_conntrack" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).length)')
if [ "$left" = 0 ]; then ok "conntrack drained to 0 entries, expired $(counter conn_expired) connections"
else bad "conntrack still holds $left entries"; fi

bpftool -j map dump pinned "$PIN/lb_stats" >"$WORK/stats.json"
(cd "$root" && node --import tsx test/dev/lbmap.ts stats <"$WORK/stats.json") >"$WORK/stats.decoded.json"
echo "counters: $(cat "$WORK/stats.decoded.json")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
