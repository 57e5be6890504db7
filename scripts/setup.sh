#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine, as root: system packages, npm dependencies, the
# TypeScript build, the eBPF object and the bpffs mount. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: must run as root (it installs packages and mounts bpffs)" >&2
  exit 4
fi

# System packages: the toolchain for the eBPF object, libbpf for the loader, iproute2/ethtool for the lab,
# and the real peers the tests and the lab use (nginx, HAProxy, Postfix, tshark, wrk, curl, swaks, openssl,
# tmux, unbound and dig, dnsperf for the UDP benchmark).
APT_PACKAGES=(
  clang llvm libbpf1 libbpf-dev linux-libc-dev bpftool
  iproute2 ethtool procps util-linux libcap2-bin
  nginx libnginx-mod-stream haproxy tshark wrk apache2-utils curl openssl tmux hyperfine
  postfix swaks libio-socket-inet6-perl unbound dnsutils dnsperf
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d stops the packages' init scripts from starting nginx/haproxy on the host: the lab and the
  # tests start their own instances inside network namespaces.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  # Postfix installs unconfigured: the tests run private instances with their own configuration.
  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies, exactly as locked; skipped when node_modules already matches the lock file. A linked
# node_modules (a git worktree sharing the main checkout's install) is left alone: npm ci would empty the
# link's target for every checkout using it, and a fresh checkout's lock file is newer than any install.
if [ -L node_modules ]; then
  log "node_modules links to $(readlink node_modules): not reinstalled here"
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund >/dev/null
fi

log "building TypeScript and the eBPF object"
npm run --silent build
bash scripts/build-bpf.sh

# `lbctl` on PATH, as the README, the lab's hints and the systemd unit print it: this checkout's entry point.
ln -sfn "$PWD/bin/run.js" /usr/local/bin/lbctl

# bpffs holds the pinned maps that carry lbctl's state between CLI invocations.
if ! grep -qs ' /sys/fs/bpf bpf ' /proc/mounts; then
  mkdir -p /sys/fs/bpf
  mount -t bpf bpf /sys/fs/bpf
fi
log "ready"
