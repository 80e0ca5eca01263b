#!/usr/bin/env bash
# Regenerate the whole report: notebooks/NN_*.ipynb, in order, executed with papermill.
#
#   ./run_all.sh                      the profile for this machine (paper with a CUDA GPU, else quick)
#   ./run_all.sh --profile smoke      synthetic data, minutes on a CPU
#   ./run_all.sh --only 03,05         some notebooks only (by number or name)
#   ./run_all.sh -p datasets '["imdb"]' -p seeds '[0]'   papermill parameters for every notebook
#   ./run_all.sh --test [pytest args] set up the environment, lint with ruff, run the tests
#
# It uses the active virtual or conda environment when lthlib and papermill import there, and
# otherwise creates .venv/ and installs the package into it.  Executed notebooks go to
# reports/<profile>/ (with HTML), figures to figures/<profile>/, tables to results/<profile>/tables/.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

die() { echo "run_all: $*" >&2; exit 1; }

profile="" only="" mode=run
params=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) [ $# -ge 2 ] || die "--profile needs a name (smoke, quick, paper)"; profile=$2; shift 2 ;;
    --only) [ $# -ge 2 ] || die "--only needs notebook numbers, e.g. --only 03,05"; only=$2; shift 2 ;;
    -p) [ $# -ge 3 ] || die "-p needs a name and a value, e.g. -p seeds '[0]'"; params+=(-p "$2" "$3"); shift 3 ;;
    --test) mode=test; shift; break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see ./run_all.sh --help)" ;;
  esac
done

# -- the environment ---------------------------------------------------------------------------
env_ok() { "$1" -c 'import lthlib, papermill, pytest' >/dev/null 2>&1; }

setup_env() {
  if [ -n "${VIRTUAL_ENV:-}${CONDA_PREFIX:-}" ] && env_ok python; then PY=python; return; fi
  PY="$ROOT/.venv/bin/python"
  local stamp="$ROOT/.venv/.installed" want
  want=$(cat pyproject.toml | (sha256sum 2>/dev/null || shasum -a 256) | cut -c1-64)
  if [ -x "$PY" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && env_ok "$PY"; then return; fi
  local base=${LTH_PYTHON:-python3}
  "$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || die "Python >= 3.11 is needed; set LTH_PYTHON to one (found: $($base --version 2>&1))"
  echo "run_all: setting up .venv (first run only)"
  [ -x "$PY" ] || "$base" -m venv "$ROOT/.venv"
  "$PY" -m pip install -q --upgrade pip
  # torch first, pinned: a bare range would pull a multi-GB build. LTH_TORCH overrides it.
  "$PY" -c 'import torch' 2>/dev/null || "$PY" -m pip install -q "${LTH_TORCH:-torch==2.13.0}"
  "$PY" -m pip install -q -e ".[test]"
  echo "$want" > "$stamp"
}

setup_env
export PYTHONUNBUFFERED=1

if [ "$mode" = test ]; then
  "$PY" -m ruff check lthlib notebooks/*.py tests benchmarks || die "ruff found problems (above); fix them first"
  exec "$PY" -m pytest "$@"
fi

# -- the profile -------------------------------------------------------------------------------
if [ -z "$profile" ]; then
  profile=$("$PY" -c 'from lthlib.experiment.profiles import default_profile; print(default_profile())')
  if [ "$profile" = quick ]; then
    echo "run_all: no CUDA GPU found, so the 'quick' profile runs (--profile paper to force the study's settings)"
  else
    echo "run_all: a CUDA GPU is here, so the 'paper' profile runs"
  fi
fi
case "$profile" in smoke|quick|paper) ;; *) die "unknown profile '$profile'; valid: smoke, quick, paper" ;; esac

# -- the notebooks -----------------------------------------------------------------------------
# a relative LTH_DATA_MIRROR (and every LTH_* folder) is read from the repository root by lthlib
# (lthlib/machine/platform.py), wherever a process runs.  LTH_REPORT: the notebooks' kernels write
# the report's own folders (a JupyterLab kernel without it writes <profile>-scratch folders).
export LTH_REPORT=1
reports="reports/$profile"  # relative: papermill records the path in the notebook
mkdir -p "$reports"
# every numbered notebook, in order (the .ipynb of each NN_name.py pair; see notebooks/jupytext.toml)
notebooks=(notebooks/[0-9][0-9]_*.ipynb)
selected=()
for nb in "${notebooks[@]}"; do
  name=$(basename "$nb" .ipynb)
  if [ -z "$only" ] || [[ ",$only," == *",${name:0:2},"* ]] || [[ ",$only," == *",$name,"* ]]; then
    selected+=("$nb")
  fi
done
[ ${#selected[@]} -gt 0 ] || die "--only '$only' matches no notebook; have: $(cd notebooks && ls [0-9][0-9]_*.ipynb | tr '\n' ' ')"

start=$(date +%s)
for nb in "${selected[@]}"; do
  name=$(basename "$nb")
  out="$reports/$name"
  echo "run_all: [$profile] $name"
  if ! "$PY" -m papermill --cwd notebooks "$nb" "$out" -p profile "$profile" "${params[@]}" \
        --log-level WARNING --no-progress-bar; then
    "$PY" - "$out" <<'EOF' >&2 || true
import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
for index, cell in enumerate(nb.cells):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            print(f"run_all: the failing cell is cell {index} (In [{cell.get('execution_count')}]): {first}")
            print(f"run_all: {output.get('ename')}: {output.get('evalue')}")
            sys.exit(0)
EOF
    die "notebook $name failed; the executed copy with the error is $out"
  fi
  "$PY" -m lthlib.report.render "$out" || die "could not export $out to HTML"
done
echo "run_all: done in $(( $(date +%s) - start )) s: reports/$profile, figures/$profile, results/$profile/tables"
