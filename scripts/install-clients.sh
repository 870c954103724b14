#!/usr/bin/env bash
# Install the other real clients the interop tests drive — py-rattler 0.28.0 (what pixi and rattler-build read
# credentials with), uv 0.13.9 and pip — into a venv under TOOLS (default: ~/.cache/conda-connect-ci/tools).
# Idempotent: a finished install is reused. Prints the venv's bin directory on its last line.
set -euo pipefail
TOOLS=${1:-${CONDA_CONNECT_TOOLS:-$HOME/.cache/conda-connect-ci/tools}}
mkdir -p "$TOOLS"
TOOLS=$(cd "$TOOLS" && pwd)
if [ ! -f "$TOOLS/.clients-ready" ]; then
  PY=$(command -v python3.11 || command -v python3)
  rm -rf "$TOOLS/clients"
  "$PY" -m venv "$TOOLS/clients"
  "$TOOLS/clients/bin/pip" install -q --disable-pip-version-check py-rattler==0.28.0 uv==0.13.9
  touch "$TOOLS/.clients-ready"
fi
"$TOOLS/clients/bin/uv" --version >&2
echo "$TOOLS/clients/bin"
