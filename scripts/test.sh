#!/usr/bin/env bash
# The test suite, with its real servers: installs what is missing (the system packages of
# scripts/system_deps.sh with apt, then the virtual environment), starts an S3-API server (moto)
# and a STAC API with transactions (stac-fastapi-pgstac on a private PostgreSQL + PostGIS cluster)
# on 127.0.0.1, runs pytest, stops the servers. The rustac STAC API servers and the Dask clusters
# are started by the tests themselves. Extra arguments go to pytest.
# Usage: bash scripts/test.sh [PYTEST ARGS...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/system_deps.sh
source "$ROOT/scripts/system_deps.sh"
system_deps_install || exit 1
# shellcheck source=scripts/bootstrap.sh
source "$ROOT/scripts/bootstrap.sh"
export LSTCLOUD_SHARED_DATA="${LSTCLOUD_SHARED_DATA:-../shared/data}"
export MPLBACKEND=Agg

port="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp -t lstcloud-moto.XXXXXX.log)"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
# STAC API (stac-fastapi-pgstac + PostgreSQL/PostGIS), started in parallel with moto
stac_url_file="$(mktemp -t lstcloud-stacapi.XXXXXX.url)"
stac_log="$(mktemp -t lstcloud-stacapi.XXXXXX.log)"
rm -f "$stac_url_file"
"$PY" -m tests.pgstac_server "$stac_url_file" >"$stac_log" 2>&1 &
stac_pid=$!
cleanup() {
  kill "$moto_pid" "$stac_pid" 2>/dev/null || true
  wait "$moto_pid" "$stac_pid" 2>/dev/null || true
  rm -f "$log" "$stac_log" "$stac_url_file"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
export LSTCLOUD_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
for _ in $(seq 1 1800); do
  [ -s "$stac_url_file" ] && break
  if ! kill -0 "$stac_pid" 2>/dev/null; then
    echo "[test] the STAC API (stac-fastapi-pgstac) could not start:" >&2
    cat "$stac_log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -s "$stac_url_file" ]; then
  echo "[test] the STAC API (stac-fastapi-pgstac) did not start within 180 s:" >&2
  cat "$stac_log" >&2
  exit 1
fi
export LSTCLOUD_TEST_STAC_API="$(cat "$stac_url_file")"
echo "[test] S3 API (moto) on $LSTCLOUD_TEST_S3_ENDPOINT; STAC API (pgstac) on $LSTCLOUD_TEST_STAC_API; shared data: $LSTCLOUD_SHARED_DATA" >&2

set +e
"$PY" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "[test] pytest collected no tests" >&2
fi
exit "$status"
