#!/usr/bin/env bash
# Install a real conda 24.7.1 CLI into TOOLS (default: ~/.cache/conda-connect-ci/tools). PyPI's own `conda` stops
# at 4.3, but the conda-lock 4.0.3 wheel vendors an almost complete conda 24.7.1: a symlink makes that copy
# importable as `conda` (it imports its subcommands by absolute name), and the wrapper sets CONDA_SOLVER=classic
# because the libmamba solver is not on PyPI. Idempotent: a finished install is reused.
# Prints the path of the `conda` wrapper on its last line.
set -euo pipefail
TOOLS=${1:-${CONDA_CONNECT_TOOLS:-$HOME/.cache/conda-connect-ci/tools}}
mkdir -p "$TOOLS"
TOOLS=$(cd "$TOOLS" && pwd)
if [ ! -f "$TOOLS/.conda-ready" ]; then
  PY=$(command -v python3.11 || command -v python3)
  rm -rf "$TOOLS/clvenv" "$TOOLS/clshim" "$TOOLS/bin"
  "$PY" -m venv "$TOOLS/clvenv"
  "$TOOLS/clvenv/bin/pip" install -q --disable-pip-version-check conda-lock==4.0.3
  "$TOOLS/clvenv/bin/pip" install -q --disable-pip-version-check pluggy pycosat archspec frozendict jsonpatch \
      tqdm truststore distro zstandard conda-package-handling==2.6.0
  VENDORED=$("$TOOLS/clvenv/bin/python" -c 'import conda_lock, os; print(os.path.dirname(conda_lock.__file__))')/_vendor/conda
  mkdir -p "$TOOLS/clshim" "$TOOLS/bin"
  ln -sfn "$VENDORED" "$TOOLS/clshim/conda"
  cat > "$TOOLS/bin/conda" <<WRAP
#!/bin/sh
PYTHONPATH=$TOOLS/clshim\${PYTHONPATH:+:\$PYTHONPATH} CONDA_SOLVER=\${CONDA_SOLVER:-classic} exec $TOOLS/clvenv/bin/python -m conda "\$@"
WRAP
  chmod +x "$TOOLS/bin/conda"
  touch "$TOOLS/.conda-ready"
fi
"$TOOLS/bin/conda" --version >&2
echo "$TOOLS/bin/conda"
