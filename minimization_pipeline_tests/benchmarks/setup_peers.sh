#!/usr/bin/env bash
# Create one virtualenv per peer library under .bench/venvs/<peer> (gitignored).
#
# Why one venv each: the peers pin clashing versions of numpy/pandas/polars, and none of them may leak
# into the project's own .venv. Idempotent: a venv whose stamp matches its pinned spec is left alone, so
# `make bench` can call this every time. A peer that fails to install is reported and skipped (exit 0):
# the benchmark records "not installed" for it instead of failing.
#
# Usage: setup_peers.sh [peer ...]   (default: all peers)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENVS="${BENCH_VENVS:-$ROOT/.bench/venvs}"
PYTHON="${BENCH_PYTHON:-python3}"

# peer name -> pip requirement(s); pinned so that results are comparable from one run to the next.
declare -A SPECS=(
  [anonypy]="anonypy==0.2.1 pandas==2.3.3"
  [anonypyx]="anonypyx==0.2.11 pandas==2.3.3"
  [anjana]="anjana==1.2.3"
  [polarfrost]="polarfrost[spark]==0.2.1"
)
PEERS=("$@")
if [ ${#PEERS[@]} -eq 0 ]; then
  PEERS=(anonypy anonypyx anjana polarfrost)
fi

uv_cmd() {
  if command -v uv >/dev/null 2>&1; then uv "$@"; elif "$PYTHON" -m uv --version >/dev/null 2>&1; then "$PYTHON" -m uv "$@"; else return 127; fi
}

mkdir -p "$VENVS"
status=0
for peer in "${PEERS[@]}"; do
  spec="${SPECS[$peer]:-}"
  if [ -z "$spec" ]; then
    echo "setup_peers: unknown peer '$peer' (known: ${!SPECS[*]})" >&2
    status=1
    continue
  fi
  venv="$VENVS/$peer"
  stamp="$venv/.bench-installed"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$spec" ]; then
    echo "setup_peers: $peer up to date ($spec)"
    continue
  fi
  echo "setup_peers: installing $peer ($spec) into $venv"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv" || { echo "setup_peers: $peer: venv creation failed" >&2; continue; }
  log="$VENVS/$peer.install.log"
  # shellcheck disable=SC2086  # $spec may hold several requirements
  if uv_cmd pip install --quiet --python "$venv/bin/python" $spec >"$log" 2>&1 \
    || "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $spec >>"$log" 2>&1; then
    echo "$spec" >"$stamp"
    rm -f "$VENVS/$peer.failed"
  else
    echo "setup_peers: $peer could not be installed, see $log" >&2
    tail -n 5 "$log" >"$VENVS/$peer.failed"
  fi
done
exit $status
