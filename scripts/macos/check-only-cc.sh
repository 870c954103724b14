#!/usr/bin/env bash
# The C compiler for `cargo check --target *-apple-darwin` on Linux, and for nothing else. `cargo check` never
# links, yet the build scripts of ring and zstd-sys still compile their C sources, and without Apple's SDK no
# Linux compiler can (zstd needs the SDK's libc headers). The check is about our Rust code — the macOS cfg
# branches, the Keychain store, the paths — so the C objects may be empty: this writes an empty file wherever
# an object was asked for. A Mac builds the real thing with Xcode's clang.
set -euo pipefail
out=
while [ $# -gt 0 ]; do
  case $1 in
    # cc-rs asks which family of compiler this is: answer as clang does (and refuse MSVC's `-?`).
    -E) printf '#pragma message "clang"\n#pragma message "gcc"\n'; exit 0 ;;
    '-?') exit 1 ;;
    --version) echo "check-only-cc (empty objects, for cargo check)"; exit 0 ;;
    -o) out=$2; shift 2 ;;
    -o*) out=${1#-o}; shift ;;
    *) shift ;;
  esac
done
if [ -n "$out" ]; then : >"$out"; fi
