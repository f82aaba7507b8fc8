#!/usr/bin/env bash
# Debian's Chromium and CJK fonts for the console's browser tests (Playwright drives
# /usr/bin/chromium; it never downloads a browser of its own). Installs only what is
# missing, non-interactively; without apt-get or root it says what to install and
# carries on (the browser tests then say why they cannot run).
set -uo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); fi
fi
if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" != 0 ] && [ ${#sudo[@]} -eq 0 ]; }; then
  echo "note: the browser tests need Debian's packages: ${need[*]} (apt-get install ${need[*]})" >&2
  exit 0
fi
echo "installing ${need[*]} (apt-get)…" >&2
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do  # another apt-get may hold the lock for a while
  if "${sudo[@]}" apt-get update -qq >/dev/null \
     && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    exit 0
  fi
  sleep $((attempt * 10))
done
echo "warning: could not install ${need[*]}; the browser tests will not run" >&2
exit 0
