#!/usr/bin/env bash
# Install the Debian 12 packages cairn needs to build, test and run.
# Idempotent: checks with dpkg-query first and calls apt-get only for what is
# missing, so a second run costs a fraction of a second.
#   scripts/deps.sh            build + test dependencies
#   scripts/deps.sh bench      also what bench/ needs (wrk, etcd, perl)
set -eu
pkgs="build-essential pkg-config libuv1-dev libmicrohttpd-dev libsodium-dev
libyaml-dev libcmocka-dev libraft-dev libcurl4-openssl-dev libjson-c-dev
libbsd-dev liblz4-dev curl dnsutils procps iproute2 python3"
if [ "${1:-}" = bench ]; then
    pkgs="$pkgs wrk etcd-server etcd-client perl"
fi
missing=""
for p in $pkgs; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in *"ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages and not root; run: apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
