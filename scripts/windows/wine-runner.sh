#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu: put the ProcessPrng shim beside the executable, then run it in Wine.
set -euo pipefail
exe=$1
cp "$CONDA_CONNECT_PRNG_SHIM" "$(dirname "$exe")/bcryptprimitives.dll"
exec wine "$@"
