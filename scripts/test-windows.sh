#!/usr/bin/env bash
# The Windows run: cross-build the tests for x86_64-pc-windows-gnu and run them under Wine — every unit test and
# the whole integration suite — then check that the macOS targets compile.
# Needs: rustup targets x86_64-pc-windows-gnu and aarch64-apple-darwin; gcc-mingw-w64-x86-64; wine. Set
# CONDA_CONNECT_MAC_TARGETS="aarch64-apple-darwin x86_64-apple-darwin" to check the Intel Mac target too.
# Its own target dirs under the CI cache (override with CONDA_CONNECT_CI_CACHE) keep the Linux one untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CONDA_CONNECT_CI_CACHE:-$HOME/.cache/conda-connect-ci}
WIN=x86_64-pc-windows-gnu
start=$(date +%s)

# The ProcessPrng shim that Wine 8 lacks (test-only; see scripts/windows/bcryptprimitives.c).
mkdir -p "$CACHE/windows"
SHIM="$CACHE/windows/bcryptprimitives.dll"
if [ ! -f "$SHIM" ] || [ scripts/windows/bcryptprimitives.c -nt "$SHIM" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -o "$SHIM" scripts/windows/bcryptprimitives.c -ladvapi32
fi
export CONDA_CONNECT_PRNG_SHIM=$SHIM
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$PWD/scripts/windows/wine-runner.sh"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
# A Wine prefix of our own, quiet, with no Mono/Gecko install prompts and no display needed.
export WINEPREFIX="$CACHE/windows/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  wineboot --init >/dev/null 2>&1 || true
fi

export CARGO_TARGET_DIR="$CACHE/target-windows"
# Every unit test (two are ignored on Windows, with the reason: Wine's file semantics), then the whole integration
# suite: the emulator over loopback, the real Windows binary, the window's iced_test screens, secrets in Wine's
# Credential Manager. Unix-only tests (file modes, symlinks, SIGKILL, the hostile repodata server) are not
# compiled for Windows.
# the real conda of the Linux run cannot run here: its interop tests say they are skipped
unset CONDA_CONNECT_REAL_CONDA CONDA_CONNECT_REQUIRE_REAL_CONDA CONDA_CONNECT_CLIENTS CONDA_CONNECT_REQUIRE_CLIENTS
cargo test --locked --target $WIN --lib
cargo test --locked --target $WIN --test integration
echo "windows: built and tested in $(( $(date +%s) - start ))s"

# macOS: type-check only (no Mac to link or run on). The C parts of ring and zstd-sys need Apple's SDK, so their
# build scripts get a check-only compiler that writes empty objects (scripts/macos/check-only-cc.sh).
mac_start=$(date +%s)
export CARGO_TARGET_DIR="$CACHE/target-macos"
for target in ${CONDA_CONNECT_MAC_TARGETS:-aarch64-apple-darwin}; do
  if ! grep -qx "$target" <<<"$(rustup target list --installed 2>/dev/null)"; then
    echo "macos: $target skipped (rustup target add $target)"
    continue
  fi
  triple=${target//-/_}
  env "CC_$triple=$PWD/scripts/macos/check-only-cc.sh" "AR_$triple=ar" \
    cargo check --locked --target "$target" --lib --bins
done
echo "macos: checked in $(( $(date +%s) - mac_start ))s"
