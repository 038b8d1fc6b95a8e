#!/usr/bin/env bash
# Load on `POST /slack/commands` (`/tradeoff start`, signed): `tradeoff serve` with its
# store write and outbox, next to a bare axum handler doing only the same signature check,
# in the same run. Each server is pinned to one core (taskset -c 1); wrk runs on core 0.
#
#   benches/slack_load.sh [DURATION_SECONDS] [CONNECTIONS]
#
# LOAD=clicks loads `POST /slack/interactions` with clicks instead, and LOAD=replies
# `POST /slack/events` with thread replies: the data directory is first filled with STEPS
# decisions just started (default 25,000 per second of load), and each request answers the
# first question of another one (`slack_bench steps`); once all are answered, requests
# repeat, as Slack's retries do, and are acted on once.
#
# Needs wrk and bc (Debian: apt-get install -y wrk bc), openssl, taskset. Builds in release
# mode. It prints serve's CPU time per start by thread, then waits for the outbox to
# deliver everything the load queued. READ_PROBE=1 also times one command that reads the
# store, halfway through the load on serve. DRAIN_LIMIT=N waits at most N seconds for that.
# SERVE_BIN=path loads another build of `tradeoff` in place of the one just built (to
# compare two versions in alternating runs). DATA_DIR=path serves that data directory
# (kept afterwards) rather than a new empty one: to load a store of a given size, fill one
# first with `target/release/examples/slack_bench seed DIR N`. NO_BUILD=1 skips the build,
# and BENCH_BIN_DIR=path takes `tradeoff` and `examples/slack_bench` from there.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-15}
CONNECTIONS=${2:-50}
SECRET=load-test-signing-secret
PORT_SERVE=39301 PORT_BARE=39302 PORT_API=39303

[ "${NO_BUILD:-0}" = 1 ] || cargo build --release --quiet --bin tradeoff --example slack_bench
BIN=${BENCH_BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}
DATA=${DATA_DIR:-$(mktemp -d)}
LOAD=${LOAD:-starts}
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # serve stops cleanly on SIGTERM (the store finishes its queued writes): wait before
  # removing its data.
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${DATA_DIR:-}" ] || rm -rf "$DATA"
}
trap cleanup EXIT

case "$LOAD" in
  starts) SCRIPT=benches/slack_start.lua STEPS=0 ;;
  clicks|replies)
    SCRIPT=benches/slack_steps.lua STEPS=${STEPS:-$(( 25000 * DURATION ))}
    export REQUESTS="$DATA.requests"
    SLACK_SIGNING_SECRET=$SECRET "$BIN/examples/slack_bench" steps "$DATA" "$STEPS" "$REQUESTS" "$LOAD"
    trap 'cleanup; rm -f "$REQUESTS"' EXIT ;;
  *) echo "LOAD is starts, clicks or replies, not $LOAD" >&2; exit 2 ;;
esac

taskset -c 0 "$BIN/examples/slack_bench" stand-in "127.0.0.1:$PORT_API" & PIDS+=($!)
SLACK_SIGNING_SECRET=$SECRET taskset -c 1 "$BIN/examples/slack_bench" bare "127.0.0.1:$PORT_BARE" & PIDS+=($!)
BARE_PID=$!
SERVE_FROM=$(date +%s.%N)
RUST_LOG=warn SLACK_SIGNING_SECRET=$SECRET SLACK_BOT_TOKEN=xoxb-load SLACK_API_URL="http://127.0.0.1:$PORT_API/api" \
  taskset -c 1 "${SERVE_BIN:-$BIN/tradeoff}" --data-dir "$DATA" serve --addr "127.0.0.1:$PORT_SERVE" & PIDS+=($!)
SERVE_PID=$!
for port in $PORT_SERVE $PORT_BARE $PORT_API; do
  for _ in $(seq 3000); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.01; done
done
echo "serve accepting connections $(echo "$(date +%s.%N) - $SERVE_FROM" | bc | cut -c1-5) s after it was started, RSS $(grep VmRSS "/proc/$SERVE_PID/status" | awk '{print $2, $3}')"

export BODY="token=t&team_id=T0001&team_domain=example&channel_id=C0001&channel_name=load&user_id=U0001&user_name=load&command=%2Ftradeoff&text=start&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1%2F2&trigger_id=1.2.3&api_app_id=A1"
export TS=$(date +%s)
# Slack's request signature of a body sent at $TS.
sign() { echo "v0=$(printf 'v0:%s:%s' "$TS" "$1" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')"; }
# A process's peak resident memory.
peak_rss() { grep VmHWM "/proc/$1/status" | awk '{print $2, $3}'; }
export SIG=$(sign "$BODY")

# Both must accept the request before it is measured.
for port in $PORT_SERVE $PORT_BARE; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/slack/commands" \
    -H "X-Slack-Request-Timestamp: $TS" -H "X-Slack-Signature: $SIG" --data "$BODY")
  [ "$code" = 200 ] || { echo "port $port answered $code" >&2; exit 1; }
done

run() { taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$SCRIPT" "$1" | grep RESULT; }
# CPU time (clock ticks) of each of serve's threads, by thread name.
thread_ticks() {
  for t in /proc/$SERVE_PID/task/*; do
    echo "$(tr ' ' '_' < "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"
  done | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort
}
BARE_RESULT=$(run "http://127.0.0.1:$PORT_BARE/slack/commands")
echo "bare handler:   $BARE_RESULT"

# With READ_PROBE=1, one command that reads the store (`/tradeoff result`) is timed halfway
# through the load on serve: a read waits for the store's flush in progress. The probe
# changes the run (one more request), so it is off by default.
PROBE_PID=
if [ "${READ_PROBE:-0}" = 1 ]; then
  READ_BODY=${BODY/text=start/text=result}
  READ_SIG=$(sign "$READ_BODY")
  READ_TIME=$(mktemp)
  (sleep "$(echo "$DURATION / 2" | bc -l)"
   curl -s -o /dev/null -w '%{http_code} in %{time_total} s' -X POST "http://127.0.0.1:$PORT_SERVE/slack/commands" \
     -H "X-Slack-Request-Timestamp: $TS" -H "X-Slack-Signature: $READ_SIG" --data "$READ_BODY" > "$READ_TIME") &
  PROBE_PID=$!
fi
BEFORE=$(thread_ticks)
SERVE_RESULT=$(run "http://127.0.0.1:$PORT_SERVE/slack/commands")
AFTER=$(thread_ticks)
echo "tradeoff serve: $SERVE_RESULT"
rps() { echo "$1" | sed 's/.*rps=\([0-9]*\).*/\1/'; }
echo "serve's throughput: $(echo "scale=1; 100 * $(rps "$SERVE_RESULT") / $(rps "$BARE_RESULT")" | bc)% of the bare handler's, same run"
if [ -n "$PROBE_PID" ]; then
  wait "$PROBE_PID"
  echo "a store read halfway through that load (/tradeoff result): $(cat "$READ_TIME")"
  rm -f "$READ_TIME"
fi
REQUESTS_MADE=$(echo "$SERVE_RESULT" | sed 's/.*requests=\([0-9]*\).*/\1/')
# CPU per request, by thread (threads above 0.5 µs).
join <(echo "$BEFORE") <(echo "$AFTER") | awk -v n="$REQUESTS_MADE" -v hz="$(getconf CLK_TCK)" -v what="$(case $LOAD in replies) echo reply;; *) echo "${LOAD%s}";; esac)" '
  { us = ($3 - $2) * 1e6 / hz / n; if (us >= 0.5) printf "  cpu per %s, %s: %.1f us\n", what, $1, us }'
echo "peak RSS: tradeoff serve $(peak_rss "$SERVE_PID"), bare $(peak_rss "$BARE_PID")"

# Every start queued two posts (the thread's parent and the first question), and so did
# every first answer (the question marked answered, the next one asked); the outbox
# delivers them in the background. How long until the last one is posted? (The start
# sent to check serve counts too.)
ACTED=$REQUESTS_MADE
[ "$LOAD" = starts ] || [ "$ACTED" -le "$STEPS" ] || ACTED=$STEPS
WANT=$(( (ACTED + 1) * 2 ))
DRAIN_FROM=$(date +%s.%N)
LIMIT=${DRAIN_LIMIT:-600}
while :; do
  GOT=$(curl -s "http://127.0.0.1:$PORT_API/posted")
  [ "$GOT" -ge "$WANT" ] && break
  if (( $(echo "$(date +%s.%N) - $DRAIN_FROM > $LIMIT" | bc) )); then
    echo "outbox: $GOT of $WANT posts after ${LIMIT}s; stopped waiting"; break
  fi
  sleep 0.5
done
[ "$GOT" -ge "$WANT" ] && echo "outbox: all $WANT posts delivered $(echo "$(date +%s.%N) - $DRAIN_FROM" | bc | cut -c1-6)s after the load ended"
echo "peak RSS including the catch-up: tradeoff serve $(peak_rss "$SERVE_PID")"
