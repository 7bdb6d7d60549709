#!/bin/sh
# `make run`: starts mockllm (for the offline `demo` model) and the gateway on the quickstart config.
# Ctrl-C stops both.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CONFIG=${CONFIG:-config/quickstart.yaml}
MOCK_PORT=${MOCK_PORT:-4010}

"$BUILD/mockllm" --host 127.0.0.1 --port "$MOCK_PORT" --quiet &
MOCK_PID=$!
trap 'kill $MOCK_PID 2>/dev/null || true' EXIT INT TERM
echo "mockllm (pid $MOCK_PID) serves the demo model on 127.0.0.1:$MOCK_PORT"
echo "try:  curl -s localhost:4000/v1/chat/completions -H 'content-type: application/json' \\"
echo "        -d '{\"model\":\"demo\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'"
"$BUILD/tollgate" serve -c "$CONFIG" "$@"
