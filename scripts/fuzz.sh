#!/bin/bash
# `make fuzz`: builds each libFuzzer driver in fuzz/ with ASan+UBSan and runs it for a bounded time
# (first argument, seconds; default 20) on its seed corpus. Fails if any driver finds a crash.
set -u
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-20}
OUT=build-fuzz
mkdir -p "$OUT"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc"
LIBS="$(pkg-config --cflags --libs libuv libcurl json-c libfyaml openssl libxxhash zlib) -lhttp_parser -lm -pthread"
LIB_SRC=$(find src -name '*.c' ! -path 'src/cli/*' | sort)
status=0
for drv in fuzz/fuzz_*.c; do
    name=$(basename "$drv" .c)
    corpus="fuzz/corpus/${name#fuzz_}"
    work="$OUT/corpus-${name#fuzz_}"
    mkdir -p "$work"
    echo "== $name: build"
    if ! clang $CFLAGS "$drv" $LIB_SRC $LIBS -o "$OUT/$name"; then
        echo "FAIL $name: build failed"
        status=1
        continue
    fi
    echo "== $name: run ${SECONDS_EACH}s"
    if "$OUT/$name" -max_total_time="$SECONDS_EACH" -print_final_stats=0 -artifact_prefix="$OUT/$name-" \
        "$work" "$corpus" >"$OUT/$name.log" 2>&1; then
        echo "ok   $name ($(grep -E -o 'cov: [0-9]+' "$OUT/$name.log" | tail -1), $(grep -c '' "$OUT/$name.log") log lines)"
    else
        echo "FAIL $name: see $OUT/$name.log"
        tail -30 "$OUT/$name.log"
        status=1
    fi
done
exit $status
