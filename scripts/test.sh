#!/usr/bin/env bash
# The test command: installs the real conda used by the interop test (cached; works from scratch), then runs
# clippy and every test. Build output and tools are cached in ~/.cache/conda-connect-ci (override with
# CONDA_CONNECT_CI_CACHE), outside the clone, so repeated runs are incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CONDA_CONNECT_CI_CACHE:-$HOME/.cache/conda-connect-ci}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
CONDA_CONNECT_REAL_CONDA=$(bash scripts/install-real-conda.sh "$CACHE/tools" | tail -n 1)
export CONDA_CONNECT_REAL_CONDA CONDA_CONNECT_REQUIRE_REAL_CONDA=1
# py-rattler, pip and uv for the "every client" interop tests
CONDA_CONNECT_CLIENTS=$(bash scripts/install-clients.sh "$CACHE/tools" | tail -n 1)
export CONDA_CONNECT_CLIENTS CONDA_CONNECT_REQUIRE_CLIENTS=1
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked
# Windows under Wine and the macOS type check, when the cross toolchain and Wine are there (.ci/run installs them).
if command -v wine >/dev/null && command -v x86_64-w64-mingw32-gcc >/dev/null \
  && grep -qx x86_64-pc-windows-gnu <<<"$(rustup target list --installed 2>/dev/null)"; then
  CONDA_CONNECT_CI_CACHE=$CACHE bash scripts/test-windows.sh
  WINDOWS_EXE=$CACHE/target-windows/x86_64-pc-windows-gnu/debug/conda-connect.exe
else
  echo "windows: skipped (apt-get install gcc-mingw-w64-x86-64 wine; rustup target add x86_64-pc-windows-gnu)"
fi
# The installers: the macOS app bundle's layout, and the Windows .zip/.msi (installed and run under Wine).
CONDA_CONNECT_CI_CACHE=$CACHE bash scripts/test-packaging.sh "$CARGO_TARGET_DIR/debug/conda-connect" "${WINDOWS_EXE:-}"
# The real window: walk every screen of `conda-connect demo` under Xvfb (when installed) and check the PNGs.
if command -v Xvfb >/dev/null && command -v xdotool >/dev/null && command -v xdpyinfo >/dev/null && [ -x /usr/bin/import ]; then
  BIN="$CARGO_TARGET_DIR/debug/conda-connect" bash scripts/screenshots.sh "${SCREENSHOTS_DIR:-$CACHE/screenshots}"
else
  echo "screenshots: skipped (apt-get install xvfb xauth xdotool x11-utils imagemagick to run them)"
fi
