#!/usr/bin/env bash
# Build the Windows artefacts on Linux: a .zip (conda-connect.exe, its icon, LICENSE.txt, README.txt) and, when
# msitools' wixl is installed, an .msi from packaging/windows/conda-connect.wxs (Program Files\conda-connect, a
# Start-menu shortcut, an Add/Remove Programs entry with the icon; a newer version replaces an older one).
#
#   scripts/package-windows.sh [--exe PATH] [OUT]      (OUT defaults to dist/)
#
# Without --exe it cross-builds the release executable (rustup target add x86_64-pc-windows-gnu; apt-get install
# gcc-mingw-w64-x86-64). Both artefacts are unsigned and ready for signing (signtool / osslsigncode) by whoever
# holds the certificate. Never ship scripts/windows/bcryptprimitives.c: it is a shim for Wine only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
EXE=""
if [ "${1:-}" = "--exe" ]; then EXE=$2; shift 2; fi
OUT=${1:-dist}
WIN=x86_64-pc-windows-gnu
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
NAME="conda-connect-$VERSION-windows-x86_64"

if [ -z "$EXE" ]; then
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${CONDA_CONNECT_CI_CACHE:-$HOME/.cache/conda-connect-ci}/target-windows}
  cargo build --release --locked --target $WIN --bin conda-connect
  EXE="$CARGO_TARGET_DIR/$WIN/release/conda-connect.exe"
fi
[ -f "$EXE" ] || { echo "package-windows: $EXE does not exist"; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cp "$EXE" "$STAGE/conda-connect.exe"
cp LICENSE "$STAGE/LICENSE.txt"
cp assets/icons/conda-connect.ico "$STAGE/conda-connect.ico"
# Windows' Notepad reads CRLF best
sed 's/$/\r/' >"$STAGE/README.txt" <<TEXT
conda-connect $VERSION - connect conda to an Anaconda Server (Package Security Manager on-prem)

Double-click conda-connect.exe for the desktop app: Connect, Sign In, choose channels, Update Index, Sign Out.
The same actions are on the command line: conda-connect.exe --help
Try it without a server: conda-connect.exe demo

What it changes: %USERPROFILE%\\.condarc (minimal edits, put back at sign-out), Navigator's
%USERPROFILE%\\.anaconda\\navigator\\anaconda-navigator.ini, conda's token file under
%LOCALAPPDATA%\\ContinuumIO\\binstar, and the session secrets in the Windows Credential Manager.

Licence: BSD 3-Clause (LICENSE.txt).
TEXT

rm -f "$OUT/$NAME.zip"
(cd "$STAGE" && python3 -m zipfile -c "$OUT/$NAME.zip" conda-connect.exe conda-connect.ico LICENSE.txt README.txt)
echo "package-windows: $OUT/$NAME.zip"

if command -v wixl >/dev/null; then
  # wixl takes the sources relative to the working directory: the staging folder, the zip's own files
  (cd "$STAGE" && wixl -a x64 -D "Version=$VERSION" -o "$OUT/$NAME.msi" "$ROOT/packaging/windows/conda-connect.wxs")
  echo "package-windows: $OUT/$NAME.msi"
else
  echo "package-windows: no .msi (apt-get install wixl to build it)"
fi
