#!/usr/bin/env bash
# sudo bash bench/microbench/run.sh OBJ.o[:ENTRIES:PREFILL] [...]: BPF_PROG_TEST_RUN micro-benchmark (see
# prog-test-run.c): OBJ.o:2000000:100000 runs it with a 2,000,000-entry table holding 100,000 other connections.
# Builds the tool into a temporary directory, runs it in a scratch network namespace (documentation addresses
# only) and removes both, also on failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
objs=()
# OBJ.o[:ENTRIES:PREFILL]: only the object part is a path.
for o in "$@"; do
  path=${o%%:*}
  suffix=${o#"$path"}
  objs+=("$(realpath "$path")$suffix")
done
[ "${#objs[@]}" -gt 0 ] || { echo "usage: $0 OBJ.o [OBJ.o ...]" >&2; exit 2; }
tmp=$(mktemp -d)
ns=lbctl-mb-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
gcc -O2 -Wall -I"$here/../../bpf" "$here/prog-test-run.c" -o "$tmp/prog-test-run" -lbpf
ip netns add "$ns"
x() { ip -n "$ns" "$@"; }
# Client side (mbc) and backend side (mbs); peers up so the routes are usable.
x link add mbc type veth peer name mbc2
x link add mbs type veth peer name mbs2
x addr add 192.0.2.1/24 dev mbc
x addr add 198.51.100.1/24 dev mbs
for d in lo mbc mbc2 mbs mbs2; do x link set "$d" up; done
x route add 203.0.113.0/24 dev mbc
x neigh add 192.0.2.10 lladdr 02:00:00:00:00:0a dev mbc nud permanent
x neigh add 203.0.113.10 lladdr 02:00:00:00:00:0b dev mbc nud permanent
x neigh add 198.51.100.2 lladdr 02:00:00:00:00:0c dev mbs nud permanent
x neigh add 198.51.100.11 lladdr 02:00:00:00:00:0d dev mbs nud permanent
ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$ns" "$tmp/prog-test-run" "${objs[@]}"
