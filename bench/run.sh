#!/usr/bin/env bash
# bench/run.sh: Tollgate vs nginx vs the mock directly, on this machine. `make bench` runs it after
# `make all`. See bench/README.md for what is measured and how to read the table.
#
# Environment (all optional):
#   BENCH_SECONDS=10        length of each measured run (wrk saturation and each fixed rate)
#   BENCH_WARMUP=1          seconds at the fixed rate before each loadgen run is measured
#   BENCH_RATES="500 2000"  fixed request rates for bench/loadgen
#   BENCH_CONNECTIONS=64    wrk connections for the saturation runs
#   BENCH_LG_CONNECTIONS=256  most connections loadgen may open at a fixed rate
#   BENCH_WORKERS=1         nginx worker_processes and tollgate server.workers (always equal)
#   BENCH_WORDS=16          words the mock answers with (= SSE chunks per streamed reply)
#   BENCH_MOCK_CPUS=1  BENCH_PROXY_CPUS=0  BENCH_CLIENT_CPUS=1   taskset CPU lists (README.md)
#   BENCH_MODES="plain stream"   which halves to run
#   BUILD=build             build directory holding tollgate, mockllm, loadgen
# Output: the table on stdout and in $BUILD/bench/last.txt; raw wrk/loadgen JSON in
# $BUILD/bench/raw/ and all of it in $BUILD/bench/results.json; process logs in $BUILD/bench/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP:-1}
RATES=${BENCH_RATES:-500 2000}
CONNS=${BENCH_CONNECTIONS:-64}
LG_CONNS=${BENCH_LG_CONNECTIONS:-256}
WORKERS=${BENCH_WORKERS:-1}
WORDS=${BENCH_WORDS:-16}
MOCK_CPUS=${BENCH_MOCK_CPUS:-1}
PROXY_CPUS=${BENCH_PROXY_CPUS:-0}
CLIENT_CPUS=${BENCH_CLIENT_CPUS:-1}
MODES=${BENCH_MODES:-plain stream}
case $BUILD in /*) OUT=$BUILD/bench ;; *) OUT=$ROOT/$BUILD/bench ;; esac
TARGETS="direct nginx tollgate"
# Targets from DESIGN.md §6, reported, not asserted.
LAT_RATIO_MAX=1.5
SAT_RATIO_MIN=0.5
RSS_IDLE_MAX_MB=30

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# ---- prerequisites --------------------------------------------------------------------------------
for t in wrk nginx taskset curl ss awk sed timeout; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (run 'make deps', which installs nginx-light, wrk, curl)"
done
[[ "$SECS" =~ ^[0-9]+$ && "$SECS" -ge 1 ]] || die "BENCH_SECONDS must be a whole number >= 1 (got '$SECS')"
[[ "$WARM" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_WARMUP must be a number (got '$WARM')"
for b in mockllm loadgen; do
    [ -x "$BUILD/$b" ] || die "$BUILD/$b is missing: run 'make all' first (make bench does)"
done
NCPU=$(nproc)
for c in $MOCK_CPUS $PROXY_CPUS $CLIENT_CPUS; do
    taskset -c "$c" true 2>/dev/null || die "cannot pin to CPU list '$c' on this $NCPU-CPU machine (set BENCH_*_CPUS)"
done

mkdir -p "$OUT/raw" "$OUT/logs"
rm -f "$OUT"/raw/* "$OUT"/logs/*
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")

# ---- process bookkeeping: everything started here is stopped on exit -------------------------------
PIDS=()
CLIENT_PID=
MOCK_PID= NGINX_PID= TG_PID=

stop_pid() { # pid: TERM it and its direct children, wait up to 3 s, then KILL what is left
    local pid=$1 kids i
    kill -0 "$pid" 2>/dev/null || return 0
    kids=$(pgrep -P "$pid" 2>/dev/null || true)
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$CLIENT_PID" ] && stop_pid "$CLIENT_PID"
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    cp -f "$TMP"/*.log "$OUT/logs/" 2>/dev/null || true
    [ -f "$TMP/nginx/error.log" ] && cp -f "$TMP/nginx/error.log" "$OUT/logs/nginx-error.log"
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# Polls a command every 0.1 s for up to $1 seconds; returns its success.
wait_for() {
    local secs=$1 i
    shift
    for i in $(seq $((secs * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}

port_free() { [ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]; } # no socket on it in any state
USED_PORTS=" "
pick_port() { # a free TCP port below the ephemeral range (client sockets never take it), not reused
    local lo=20000 hi p i
    hi=$(awk '{print $1 - 1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32767)
    [ "$hi" -gt "$lo" ] || { lo=10000; hi=19999; }
    for i in $(seq 200); do
        p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
        if [[ "$USED_PORTS" != *" $p "* ]] && port_free "$p"; then
            USED_PORTS="$USED_PORTS$p "
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}

alive() { kill -0 "$1" 2>/dev/null; }
http_code() { # method url [body-file]: prints the HTTP status (000 if none)
    if [ -n "${3:-}" ]; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
            -H 'Authorization: Bearer bench' --data-binary "@$3" "$2" 2>/dev/null || true
    else
        curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$2" 2>/dev/null || true
    fi
}
probe_ok() { [ "$(http_code POST "$1" "$2")" = 200 ]; }
stream_ok() { # url body: the streamed reply ends with data: [DONE]
    curl -s -N --max-time 5 -H 'Content-Type: application/json' -H 'Authorization: Bearer bench' \
        --data-binary "@$2" "$1" 2>/dev/null | grep -q 'data: \[DONE\]'
}
listening() { [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }

rss_kb() { # pid field(VmRSS|VmHWM): sum over the process and its direct children (worker processes)
    local pid=$1 field=$2 total=0 p v
    for p in "$pid" $(pgrep -P "$pid" 2>/dev/null || true); do
        v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

cpu_idle_pct() { # share of CPU time idle over the next second, all CPUs (other work skews results)
    local a b
    a=$(awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit}' /proc/stat)
    sleep 1
    b=$(awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN{split(a, x, " "); split(b, y, " "); t = y[2] - x[2];
        printf "%.0f", (t > 0 ? 100 * (y[1] - x[1]) / t : 100)}'
}

# ---- bodies (the same bytes for wrk and loadgen) ---------------------------------------------------
printf '%s\n' '{"model":"bench","messages":[{"role":"user","content":"hi"}]}' >"$TMP/plain.json"
printf '%s\n' '{"model":"bench","stream":true,"messages":[{"role":"user","content":"hi"}]}' >"$TMP/stream.json"

# ---- start the mock ----------------------------------------------------------------------------------
MOCK_PORT=$(pick_port)
NGINX_PORT=$(pick_port)
TG_PORT=$(pick_port)

log "mockllm on :$MOCK_PORT (cpu $MOCK_CPUS)"
taskset -c "$MOCK_CPUS" "$BUILD/mockllm" --host 127.0.0.1 --port "$MOCK_PORT" --threads 1 \
    --words "$WORDS" --quiet >"$TMP/mockllm.log" 2>&1 &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
mock_ready() { alive "$MOCK_PID" && grep -q "mockllm listening on" "$TMP/mockllm.log" && listening "$MOCK_PORT"; }
wait_for 10 mock_ready || { cat "$TMP/mockllm.log" >&2; die "mockllm did not become ready in 10 s"; }
URL_direct="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"
probe_ok "$URL_direct" "$TMP/plain.json" || die "mockllm does not answer POST /v1/chat/completions with 200"
stream_ok "$URL_direct" "$TMP/stream.json" || die "mockllm's streamed reply does not end with data: [DONE]"

# ---- start nginx ---------------------------------------------------------------------------------
mkdir -p "$TMP/nginx"
sed -e "s|@PREFIX@|$TMP/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@MOCK_PORT@|$MOCK_PORT|g" \
    -e "s|@WORKERS@|$WORKERS|g" bench/nginx.conf.in >"$TMP/nginx/nginx.conf"
NGINX=$(command -v nginx)
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -t >"$TMP/nginx-test.log" 2>&1 ||
    { cat "$TMP/nginx-test.log" >&2; die "nginx rejects bench/nginx.conf.in"; }
log "nginx on :$NGINX_PORT ($WORKERS worker, cpu $PROXY_CPUS)"
taskset -c "$PROXY_CPUS" "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' \
    >"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
URL_nginx="http://127.0.0.1:$NGINX_PORT/v1/chat/completions"
nginx_ready() { alive "$NGINX_PID" && listening "$NGINX_PORT"; }
wait_for 10 nginx_ready || { cat "$TMP/nginx.log" "$TMP/nginx/error.log" >&2 2>/dev/null; die "nginx did not start in 10 s"; }
probe_ok "$URL_nginx" "$TMP/plain.json" || die "nginx does not proxy to the mock (see $OUT/logs/nginx-error.log)"

# ---- start tollgate (its rows become n/a when it cannot serve) ------------------------------------
TG_OK=0
TG_NOTE=
RSS_IDLE_KB=
RSS_PEAK_KB=
URL_tollgate="http://127.0.0.1:$TG_PORT/v1/chat/completions"
cat >"$TMP/tollgate.yaml" <<EOF
server: {host: 127.0.0.1, port: $TG_PORT, workers: $WORKERS, access_log: off}
models:
  - name: bench
    deployments:
      - {provider: openai, model: mock-model, api_base: "http://127.0.0.1:$MOCK_PORT/v1", api_key: x}
EOF
if [ ! -x "$BUILD/tollgate" ]; then
    TG_NOTE="$BUILD/tollgate is missing"
else
    log "tollgate on :$TG_PORT ($WORKERS worker, cpu $PROXY_CPUS)"
    taskset -c "$PROXY_CPUS" "$BUILD/tollgate" serve -c "$TMP/tollgate.yaml" --host 127.0.0.1 \
        --port "$TG_PORT" >"$TMP/tollgate.log" 2>&1 &
    TG_PID=$!
    PIDS+=("$TG_PID")
    tg_ready() { alive "$TG_PID" && [ "$(http_code GET "http://127.0.0.1:$TG_PORT/readyz")" = 200 ]; }
    if ! wait_for 15 tg_ready; then
        if alive "$TG_PID"; then TG_NOTE="tollgate did not answer GET /readyz with 200 within 15 s"
        else TG_NOTE="tollgate exited at startup"; fi
    elif ! probe_ok "$URL_tollgate" "$TMP/plain.json"; then
        TG_NOTE="tollgate answered POST /v1/chat/completions with $(http_code POST "$URL_tollgate" "$TMP/plain.json"), not 200"
    elif ! stream_ok "$URL_tollgate" "$TMP/stream.json"; then
        TG_NOTE="tollgate's streamed reply does not end with data: [DONE]"
    else
        TG_OK=1
        sleep 1
        RSS_IDLE_KB=$(rss_kb "$TG_PID" VmRSS)
    fi
    if [ "$TG_OK" = 0 ]; then
        log "$TG_NOTE (tail of its log follows); its rows will read n/a"
        tail -n 20 "$TMP/tollgate.log" >&2 || true
        stop_pid "$TG_PID"
    fi
fi

# ---- runs ----------------------------------------------------------------------------------------
declare -A R # R[mode.test.target.field] = value
RAW_LIST=()

jget() { # json key: the value of a top-level number field in a one-line JSON object
    sed -n "s/.*\"$2\":\\([-0-9.eE+]*\\).*/\\1/p" <<<"$1" | head -n 1
}

cpu_sample() { awk '/^cpu /{print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit}' /proc/stat; }
LAST_STEAL=0
run_client() { # outfile cmd...: runs a load client pinned to the client CPUs, bounded in time;
    # sets LAST_STEAL to the % of CPU time the hypervisor took from this VM during the run
    local out=$1 rc=0 s0 s1
    shift
    s0=$(cpu_sample)
    taskset -c "$CLIENT_CPUS" timeout -k 5 $((SECS + ${WARM%.*} + 40)) "$@" >"$out" 2>"$out.err" &
    CLIENT_PID=$!
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=
    [ -s "$out.err" ] || rm -f "$out.err"
    s1=$(cpu_sample)
    LAST_STEAL=$(awk -v a="$s0" -v b="$s1" 'BEGIN{split(a, x, " "); split(b, y, " "); t = y[2] - x[2];
        printf "%.0f", (t > 0 ? 100 * (y[1] - x[1]) / t : 0)}')
    return "$rc"
}

target_usable() { # target: can it be loaded now?
    case $1 in
    direct) alive "$MOCK_PID" ;;
    nginx) alive "$NGINX_PID" ;;
    tollgate)
        [ "$TG_OK" = 1 ] || return 1
        if ! alive "$TG_PID"; then
            TG_OK=0
            TG_NOTE="tollgate exited during the benchmark (see $OUT/logs/tollgate.log)"
            log "$TG_NOTE"
            return 1
        fi
        ;;
    esac
}

sat_run() { # mode target
    local mode=$1 tgt=$2 url body out line stream=0
    eval "url=\$URL_$tgt"
    body="$TMP/$mode.json"
    [ "$mode" = stream ] && stream=1
    out="$OUT/raw/$mode-sat-$tgt.wrk.txt"
    target_usable "$tgt" || return 0
    log "$mode saturation: wrk -t1 -c$CONNS -d${SECS}s -> $tgt"
    if ! BENCH_BODY="$body" BENCH_STREAM=$stream run_client "$out" \
        wrk -t1 -c"$CONNS" -d"${SECS}s" --timeout 5s -s bench/chat.lua "$url"; then
        log "wrk failed against $tgt: $(tail -n 3 "$out.err" "$out" 2>/dev/null | tr '\n' ' ')"
        return 0
    fi
    line=$(grep '^{"requests"' "$out" | tail -n 1)
    [ -n "$line" ] || return 0
    R[$mode.sat.$tgt.rps]=$(jget "$line" rps)
    local errs=$(($(jget "$line" err_connect) + $(jget "$line" err_read) + $(jget "$line" err_write) + \
        $(jget "$line" err_status) + $(jget "$line" err_timeout)))
    R[$mode.sat.$tgt.errors]=$errs
    R[$mode.sat.$tgt.total]=$(jget "$line" requests)
    R[$mode.sat.$tgt.steal]=$LAST_STEAL
    RAW_LIST+=("{\"mode\":\"$mode\",\"test\":\"saturation\",\"target\":\"$tgt\",\"steal_pct\":$LAST_STEAL,\"wrk\":$line}")
}

rate_run() { # mode rate target
    local mode=$1 rate=$2 tgt=$3 url body out line sflag=
    eval "url=\$URL_$tgt"
    body="$TMP/$mode.json"
    [ "$mode" = stream ] && sflag=--stream
    out="$OUT/raw/$mode-r$rate-$tgt.json"
    target_usable "$tgt" || return 0
    log "$mode @ $rate req/s for ${SECS}s (+${WARM}s warmup) -> $tgt"
    if ! run_client "$out" "$BUILD/loadgen" --url "$url" --rate "$rate" --duration "$SECS" \
        --warmup "$WARM" --connections "$LG_CONNS" --timeout 5 --body "$body" $sflag; then
        log "loadgen failed against $tgt: $(tail -n 3 "$out.err" 2>/dev/null | tr '\n' ' ')"
        return 0
    fi
    line=$(grep '^{"rate"' "$out" | tail -n 1)
    [ -n "$line" ] || return 0
    local f
    for f in p50_us p99_us errors sent ok achieved_rps late max_sched_lag_us; do
        R[$mode.r$rate.$tgt.$f]=$(jget "$line" "$f")
    done
    R[$mode.r$rate.$tgt.steal]=$LAST_STEAL
    RAW_LIST+=("{\"mode\":\"$mode\",\"test\":\"rate\",\"target\":\"$tgt\",\"steal_pct\":$LAST_STEAL,\"loadgen\":$line}")
}

IDLE_BEFORE=$(cpu_idle_pct)
[ "$IDLE_BEFORE" -lt 90 ] &&
    log "warning: the machine was only ${IDLE_BEFORE}% idle before the runs; other work makes the numbers noisy"
T0=$(date +%s)
for mode in $MODES; do
    # Tests outermost, targets innermost: slow drift on the machine spreads over all three.
    for tgt in $TARGETS; do sat_run "$mode" "$tgt"; sleep 1; done
    for rate in $RATES; do
        for tgt in $TARGETS; do rate_run "$mode" "$rate" "$tgt"; sleep 1; done
    done
done
if [ "$TG_OK" = 1 ] && alive "$TG_PID"; then
    RSS_PEAK_KB=$(rss_kb "$TG_PID" VmHWM)
    RSS_END_KB=$(rss_kb "$TG_PID" VmRSS)
fi
ELAPSED=$(($(date +%s) - T0))

# ---- table ---------------------------------------------------------------------------------------
fmt_num() { # value: integer with thousands left as is, or n/a
    if [ -z "$1" ]; then echo "n/a"; else printf '%.0f' "$1"; fi
}
ratio() { # a b: a/b with two decimals, or n/a
    if [ -z "$1" ] || [ -z "$2" ] || awk -v b="$2" 'BEGIN{exit !(b == 0)}'; then echo "n/a"; return; fi
    awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a / b}'
}
verdict() { # ratio-with-x op limit: PASS / MISS / n/a
    local r=${1%x}
    if [ "$1" = n/a ]; then echo "n/a"; return; fi
    if awk -v r="$r" -v l="$3" -v op="$2" 'BEGIN{exit !((op == "le" && r <= l) || (op == "ge" && r >= l) || (op == "lt" && r < l))}'; then
        echo PASS
    else
        echo MISS
    fi
}
STEAL_MAX=5        # % of CPU time taken by the hypervisor during a run
LAG_MAX_US=20000   # loadgen itself woke this late: the machine stalled
disturbed() { # mode test target: the machine, not the target, may have shaped this run
    local st=${R[$1.$2.$3.steal]:-0} lag=${R[$1.$2.$3.max_sched_lag_us]:-0}
    [ "$st" -gt "$STEAL_MAX" ] || [ "${lag%.*}" -gt "$LAG_MAX_US" ]
}
cell() { # mode test target field: value, with ! when the run had errors, ~ when disturbed
    local v=${R[$1.$2.$3.$4]:-} e=${R[$1.$2.$3.errors]:-0}
    v=$(fmt_num "$v")
    if [ "$v" != n/a ]; then
        [ "${e:-0}" != 0 ] && v="$v!"
        disturbed "$1" "$2" "$3" && v="$v~"
    fi
    echo "$v"
}
mb() { awk -v k="$1" 'BEGIN{printf "%.1f MB", k / 1024}'; }

COLS=("sat req/s")
for rate in $RATES; do COLS+=("p50@$rate" "p99@$rate"); done
TABLE=$TMP/table.txt
{
    echo "Tollgate benchmark: ${SECS}s per run, ${WARM}s loadgen warmup, $NCPU CPUs ($(uname -m))"
    echo "placement: mock cpu $MOCK_CPUS (1 thread, $WORDS words) | proxy cpu $PROXY_CPUS ($WORKERS worker) | wrk/loadgen cpu $CLIENT_CPUS"
    echo "machine ${IDLE_BEFORE}% idle just before the runs$([ "$IDLE_BEFORE" -lt 90 ] && echo ' (busy: other processes skew these numbers)')"
    echo "sat = wrk -t1 -c$CONNS req/s; pNN@R = loadgen open-loop latency in microseconds at R req/s"
    echo
    printf '%-26s' ""
    for c in "${COLS[@]}"; do printf '%12s' "$c"; done
    echo
    for mode in $MODES; do
        if [ "$mode" = plain ]; then echo "non-streaming"; else echo "streaming ($WORDS SSE chunks)"; fi
        for tgt in $TARGETS; do
            printf '  %-24s' "$tgt"
            printf '%12s' "$(cell "$mode" sat "$tgt" rps)"
            for rate in $RATES; do
                printf '%12s' "$(cell "$mode" "r$rate" "$tgt" p50_us)" "$(cell "$mode" "r$rate" "$tgt" p99_us)"
            done
            echo
        done
        printf '  %-24s' "tollgate/nginx"
        printf '%12s' "$(ratio "${R[$mode.sat.tollgate.rps]:-}" "${R[$mode.sat.nginx.rps]:-}")"
        for rate in $RATES; do
            printf '%12s' "$(ratio "${R[$mode.r$rate.tollgate.p50_us]:-}" "${R[$mode.r$rate.nginx.p50_us]:-}")" \
                "$(ratio "${R[$mode.r$rate.tollgate.p99_us]:-}" "${R[$mode.r$rate.nginx.p99_us]:-}")"
        done
        echo
    done
    echo
    echo "targets (DESIGN.md §6; reported, not asserted):"
    TOP=$(echo "$RATES" | tr ' ' '\n' | sort -n | tail -n 1)
    for mode in $MODES; do
        name=non-streaming
        [ "$mode" = stream ] && name=streaming
        r=$(ratio "${R[$mode.sat.tollgate.rps]:-}" "${R[$mode.sat.nginx.rps]:-}")
        printf '  %-46s %-8s %s\n' "$name sat req/s >= ${SAT_RATIO_MIN}x nginx" "$r" "$(verdict "$r" ge $SAT_RATIO_MIN)"
        for q in p50 p99; do
            r=$(ratio "${R[$mode.r$TOP.tollgate.${q}_us]:-}" "${R[$mode.r$TOP.nginx.${q}_us]:-}")
            printf '  %-46s %-8s %s\n' "$name $q@$TOP <= ${LAT_RATIO_MAX}x nginx" "$r" "$(verdict "$r" le $LAT_RATIO_MAX)"
        done
    done
    if [ -n "$RSS_IDLE_KB" ]; then
        idle_mb=$(awk -v k="$RSS_IDLE_KB" 'BEGIN{printf "%.1f", k / 1024}')
        printf '  %-46s %-8s %s\n' "tollgate RSS at idle < $RSS_IDLE_MAX_MB MB" "${idle_mb}MB" "$(verdict "$idle_mb" lt $RSS_IDLE_MAX_MB)"
    else
        printf '  %-46s %-8s %s\n' "tollgate RSS at idle < $RSS_IDLE_MAX_MB MB" "n/a" "n/a"
    fi
    if [ -n "$RSS_PEAK_KB" ]; then
        echo "tollgate RSS: idle $(mb "$RSS_IDLE_KB"), peak (VmHWM) $(mb "$RSS_PEAK_KB"), at end $(mb "$RSS_END_KB")"
    else
        echo "tollgate RSS: idle ${RSS_IDLE_KB:+$(mb "$RSS_IDLE_KB")}${RSS_IDLE_KB:-n/a}, peak n/a"
    fi
    [ -n "$TG_NOTE" ] && echo "tollgate: n/a because $TG_NOTE"
    # When the client and the mock share a core, direct's sat req/s is the most any proxy can show.
    for mode in $MODES; do
        d=${R[$mode.sat.direct.rps]:-}
        for tgt in nginx tollgate; do
            v=${R[$mode.sat.$tgt.rps]:-}
            if [ -n "$d" ] && [ -n "$v" ] && awk -v v="$v" -v d="$d" 'BEGIN{exit !(v >= 0.9 * d)}'; then
                echo "note: $mode $tgt sat req/s is within 10% of direct: the client+mock side may be the limit, so its sat ratio understates differences"
            fi
        done
    done
    # error and accuracy notes
    notes=
    for key in "${!R[@]}"; do
        case $key in
        *.errors)
            if [ "${R[$key]}" != 0 ]; then
                notes="$notes  ${key%.errors}: ${R[$key]} errors"$'\n'
            fi
            ;;
        esac
    done
    if [ -n "$notes" ]; then
        echo "! = the run had errors (non-2xx, timeouts, broken connections; raw output in $BUILD/bench/raw/):"
        printf '%s' "$notes" | sort
    fi
    dist=
    for mode in $MODES; do
        for test in sat $(for r in $RATES; do printf 'r%s ' "$r"; done); do
            for tgt in $TARGETS; do
                [ -n "${R[$mode.$test.$tgt.steal]:-}" ] || continue
                disturbed "$mode" "$test" "$tgt" || continue
                dist="$dist  $mode $test $tgt: ${R[$mode.$test.$tgt.steal]}% steal"
                [ -n "${R[$mode.$test.$tgt.max_sched_lag_us]:-}" ] &&
                    dist="$dist, loadgen woke up to $(( ${R[$mode.$test.$tgt.max_sched_lag_us]%.*} / 1000 )) ms late"
                dist="$dist"$'\n'
            done
        done
    done
    if [ -n "$dist" ]; then
        echo "~ = the machine stalled during the run (hypervisor steal > $STEAL_MAX% or loadgen delayed > $((LAG_MAX_US / 1000)) ms); rerun on a quiet machine:"
        printf '%s' "$dist"
    fi
    acc=
    for mode in $MODES; do
        for rate in $RATES; do
            for tgt in $TARGETS; do
                a=${R[$mode.r$rate.$tgt.achieved_rps]:-}
                [ -n "$a" ] && acc="$acc $mode/$tgt@$rate=$(printf '%.0f' "$a")"
            done
        done
    done
    [ -n "$acc" ] && echo "loadgen achieved req/s:$acc"
    echo "total ${ELAPSED}s; raw results in $BUILD/bench/results.json"
} >"$TABLE"

cp "$TABLE" "$OUT/last.txt"
{
    echo "{\"seconds\":$SECS,\"warmup\":$WARM,\"workers\":$WORKERS,\"words\":$WORDS,"
    echo "\"cpus\":{\"mock\":\"$MOCK_CPUS\",\"proxy\":\"$PROXY_CPUS\",\"client\":\"$CLIENT_CPUS\"},"
    echo "\"tollgate_ok\":$TG_OK,\"tollgate_rss_idle_kb\":${RSS_IDLE_KB:-null},\"tollgate_rss_peak_kb\":${RSS_PEAK_KB:-null},"
    echo "\"runs\":["
    sep=
    for r in "${RAW_LIST[@]}"; do
        printf '%s%s\n' "$sep" "$r"
        sep=,
    done
    echo "]}"
} >"$OUT/results.json"
cat "$TABLE"
