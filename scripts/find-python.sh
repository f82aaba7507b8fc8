#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter, or explain what to install.
set -euo pipefail
candidates=("${PYTHON:-}" python3.10)
if command -v pyenv >/dev/null 2>&1; then
  candidates+=("$(pyenv root)"/versions/3.10*/bin/python)
fi
candidates+=("$HOME"/.pyenv/versions/3.10*/bin/python /usr/local/bin/python3.10 /usr/bin/python3.10 python3)
for c in "${candidates[@]}"; do
  [ -n "$c" ] || continue
  p=$(command -v "$c" 2>/dev/null || true)
  [ -n "$p" ] && [ -x "$p" ] || continue
  if "$p" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
    echo "$p"; exit 0
  fi
done
cat >&2 <<'MSG'
error: Python 3.10 was not found.
Rasa Open Source 3.6 needs Python 3.10 (it does not support 3.11+). Install it, e.g.
  pyenv install 3.10.13        (then run make again)
  apt-get install python3.10 python3.10-venv
or point PYTHON at it:  make run PYTHON=/path/to/python3.10
MSG
exit 1
