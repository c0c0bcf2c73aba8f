#!/usr/bin/env bash
# The test suite, with its real servers: installs what is missing, starts an S3-API server (moto) on
# 127.0.0.1, runs pytest, stops the server. The STAC API servers (rustac) and the Dask clusters are
# started by the tests themselves. Extra arguments go to pytest.
# Usage: bash scripts/test.sh [PYTEST ARGS...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/bootstrap.sh
source "$ROOT/scripts/bootstrap.sh"
export LSTCLOUD_SHARED_DATA="${LSTCLOUD_SHARED_DATA:-../shared/data}"
export MPLBACKEND=Agg

port="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp -t lstcloud-moto.XXXXXX.log)"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
cleanup() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
export LSTCLOUD_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
echo "[test] S3 API (moto) on $LSTCLOUD_TEST_S3_ENDPOINT; shared data: $LSTCLOUD_SHARED_DATA" >&2

set +e
"$PY" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "[test] pytest collected no tests" >&2
fi
exit "$status"
