#!/usr/bin/env bash
# Build the lbctl datapath into bpf/build/lbctl.bpf.o (one object, all programs and maps).
# Idempotent; CLANG and BPF_CFLAGS may be overridden from the environment.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src="$root/bpf"
out="$root/bpf/build"
clang=${CLANG:-clang}

if ! command -v "$clang" >/dev/null 2>&1; then
  echo "build-bpf: '$clang' not found: install clang (>= 14), e.g. 'apt-get install clang llvm libbpf-dev'" >&2
  exit 1
fi
if [ ! -f /usr/include/bpf/bpf_helpers.h ]; then
  echo "build-bpf: /usr/include/bpf/bpf_helpers.h not found: install libbpf-dev" >&2
  exit 1
fi

arch_inc="/usr/include/$(uname -m)-linux-gnu"
mkdir -p "$out"
tmp="$out/.lbctl.bpf.o.$$"
trap 'rm -f "$tmp"' EXIT
# shellcheck disable=SC2086
"$clang" -O2 -g -target bpf -mcpu=v3 -Wall -Werror \
  -I"$src" -I"$arch_inc" ${BPF_CFLAGS:-} \
  -c "$src/lbctl.bpf.c" -o "$tmp"
mv -f "$tmp" "$out/lbctl.bpf.o"
echo "build-bpf: wrote ${out#"$root"/}/lbctl.bpf.o"
