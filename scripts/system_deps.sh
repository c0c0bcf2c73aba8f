#!/usr/bin/env bash
# The system (Debian) packages the test suite needs, and the one way they are installed: with apt
# when running as root, with sudo when it works without a password, else one line telling the user
# what to run. Sourced by scripts/test.sh (and .ci/run, which installs nothing the README's command
# does not); run directly it lists or installs:
#
#   bash scripts/system_deps.sh --missing   # print the missing packages, one line (empty: none)
#   bash scripts/system_deps.sh --check     # exit 1, naming them, when any is missing
#   bash scripts/system_deps.sh --install   # install them (what scripts/test.sh does first)
#
# The packages: kubectl (renders the kustomize overlays offline), python3-venv (the project's
# virtual environment), postgresql and the PostGIS of its installed major version (the STAC API
# with transactions that scripts/test.sh starts: stac-fastapi-pgstac), chromium (headless browser
# tests). LSTCLOUD_SYSROOT (default: /) is the file-system root the checks look at: the tests list
# what a bare machine misses with an empty folder as the root.

# system_deps_missing: the missing Debian packages, space-separated, on one line.
system_deps_missing() {
  local root="${LSTCLOUD_SYSROOT:-}" need=() initdb pg_version
  root="${root%/}"
  _sysdeps_have_cmd kubectl || need+=(kubectl)
  if [ -n "$root" ]; then
    compgen -G "$root/usr/lib/python3*/ensurepip/__init__.py" >/dev/null || need+=(python3-venv)
  else
    python3 -c "import ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
  fi
  initdb="$(compgen -G "$root/usr/lib/postgresql/*/bin/initdb" | sort -V | tail -1 || true)"
  if [ -z "$initdb" ]; then
    need+=(postgresql)
  else
    pg_version="$(basename "$(dirname "$(dirname "$initdb")")")"
    [ -e "$root/usr/share/postgresql/$pg_version/extension/postgis.control" ] ||
      need+=("postgresql-$pg_version-postgis-3")
  fi
  _sysdeps_have_cmd chromium || need+=(chromium)
  echo "${need[*]}"
}

_sysdeps_have_cmd() {
  local root="${LSTCLOUD_SYSROOT:-}"
  root="${root%/}"
  if [ -n "$root" ]; then
    [ -x "$root/usr/bin/$1" ] || [ -x "$root/usr/local/bin/$1" ] || [ -x "$root/bin/$1" ]
  else
    command -v "$1" >/dev/null 2>&1
  fi
}

# _sysdeps_apt PACKAGES...: install with apt-get as root, or through passwordless sudo.
_sysdeps_apt() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo)
    else
      echo "[deps] missing system packages; install them, then rerun: sudo apt-get install -y $*" >&2
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "[deps] missing system packages and no apt-get here; install the equivalents of: $*" >&2
    return 1
  fi
  local log rc=0
  log="$(mktemp -t lstcloud-apt.XXXXXX.log)"
  echo "[deps] installing system packages: $*" >&2
  { "${sudo[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@"; } >"$log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || { echo "[deps] apt-get failed (exit $rc):" >&2; cat "$log" >&2; }
  rm -f "$log"
  return "$rc"
}

# system_deps_install: install what is missing (PostGIS after PostgreSQL: it follows its major).
system_deps_install() {
  local missing round
  for round in 1 2; do
    missing="$(system_deps_missing)"
    [ -z "$missing" ] && return 0
    # shellcheck disable=SC2086
    _sysdeps_apt $missing || return 1
  done
  missing="$(system_deps_missing)"
  if [ -n "$missing" ]; then
    echo "[deps] still missing after apt-get install: $missing" >&2
    return 1
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:---install}" in
    --missing) system_deps_missing ;;
    --check)
      missing="$(system_deps_missing)"
      if [ -n "$missing" ]; then
        echo "[deps] missing system packages: $missing" >&2
        exit 1
      fi
      ;;
    --install) system_deps_install ;;
    *) echo "usage: bash scripts/system_deps.sh [--missing|--check|--install]" >&2; exit 2 ;;
  esac
fi
