#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu: put the ProcessPrng shim beside the executable (a test binary in
# …/debug/deps/) and beside the program the integration tests start (…/debug/conda-connect.exe), then run it in Wine.
set -euo pipefail
exe=$1
dir=$(dirname "$exe")
cp "$CONDA_CONNECT_PRNG_SHIM" "$dir/bcryptprimitives.dll"
if [ "$(basename "$dir")" = deps ]; then
  cp "$CONDA_CONNECT_PRNG_SHIM" "$dir/../bcryptprimitives.dll"
fi
exec wine "$@"
