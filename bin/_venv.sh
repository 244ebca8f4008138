# Sourced by bin/run and bin/test: make .venv hold requirements.txt, then put it on PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $($python --version)…"
  "$python" -m venv .venv
fi
wanted=$(cat requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$wanted" ]; then
  echo "Installing requirements…"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements.txt
  echo "$wanted" > .venv/.requirements.sha256
fi
export PATH="$PWD/.venv/bin:$PATH"
