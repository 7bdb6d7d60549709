#!/bin/sh
# Installs every Debian package and npm dev tool Tollgate needs to build, test and bench.
# Idempotent: safe to run again; it only installs what is missing.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config clang libclang-rt-14-dev llvm \
 libuv1-dev libcurl4-openssl-dev libhttp-parser-dev libjson-c-dev libfyaml-dev \
 libssl-dev libxxhash-dev libcmocka-dev libmimalloc-dev zlib1g-dev libpcre2-dev libsqlite3-dev \
 nginx-light wrk curl ca-certificates openssl iproute2 valgrind"
# Node comes from Debian unless the machine already has one (a newer Node from another source
# conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing packages:$missing (run as root, or install them)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
fi

# npm dev tools (end-to-end tests use the official SDK). Node's npm may come from the machine
# rather than Debian; either works.
if [ ! -d tests/e2e/node_modules/openai ]; then
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || \
        npm install --no-audit --no-fund --loglevel=error)
fi
echo "deps: ok"
