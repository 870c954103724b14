#!/usr/bin/env bash
# The Update Index benchmark, from one command on a fresh machine: conda-connect (release build) vs py-rattler 0.28
# vs conda 24.7.1 on generated conda-forge-shaped records served by the emulator (with and without .zst), at
# 100,000 and 1,000,000 records, each target marked met or not met. Installs its Python peers into venvs under
# ~/.cache/conda-connect-ci/tools (reused when present). Results: stdout and the marked section of docs/benchmarks.md.
# BENCH_RECORDS (comma-separated scales, default 100000,1000000; BENCH_RECORDS=1000000 for the large case only),
# BENCH_RUNS (default 5), BENCH_RUNS_LARGE (runs above 500,000 records, default 3), BENCH_CONDA_RUNS (default
# BENCH_RUNS; conda runs once at the larger scales). The 1,000,000 case needs ~2 GB of disk under /tmp and takes
# about ten minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CONDA_CONNECT_CI_CACHE:-$HOME/.cache/conda-connect-ci}
TOOLS=$CACHE/tools
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; } >/dev/null
CONDA=$(bash scripts/install-real-conda.sh "$TOOLS" | tail -n 1)
if [ ! -x "$TOOLS/rattlervenv/bin/python" ] || ! "$TOOLS/rattlervenv/bin/python" -c 'import rattler' 2>/dev/null; then
  PY=$(command -v python3.11 || command -v python3)
  "$PY" -m venv "$TOOLS/rattlervenv"
  "$TOOLS/rattlervenv/bin/pip" install -q --disable-pip-version-check py-rattler==0.28.0
fi
cargo build --release --locked
"$TOOLS/clvenv/bin/python" bench/run.py "$CARGO_TARGET_DIR/release/conda-connect" "$CONDA" "$TOOLS/rattlervenv/bin/python"
