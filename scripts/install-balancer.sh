#!/usr/bin/env bash
# Debian's HAProxy for `make run SCALE=N` and the scale-out tests: the load balancer in
# front of the Rasa processes (one citizen, one process: it hashes on the sender).
# Installs it only when missing, non-interactively; without apt-get or root it says what
# to install and carries on (SCALE=N and the scale-out tests then say why they cannot run).
set -uo pipefail
command -v haproxy >/dev/null 2>&1 && exit 0
[ -x /usr/sbin/haproxy ] && exit 0
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); fi
fi
if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" != 0 ] && [ ${#sudo[@]} -eq 0 ]; }; then
  echo "note: SCALE=N needs Debian's haproxy package (apt-get install haproxy)" >&2
  exit 0
fi
echo "installing haproxy (apt-get)…" >&2
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do  # another apt-get may hold the lock for a while
  if "${sudo[@]}" apt-get install -y -qq --no-install-recommends haproxy >/dev/null 2>&1 \
     || { "${sudo[@]}" apt-get update -qq >/dev/null \
          && "${sudo[@]}" apt-get install -y -qq --no-install-recommends haproxy >/dev/null; }; then
    # the package starts its own service on :80 with the stock config: we run our own
    command -v systemctl >/dev/null 2>&1 && "${sudo[@]}" systemctl disable --now haproxy >/dev/null 2>&1
    exit 0
  fi
  sleep $((attempt * 10))
done
echo "warning: could not install haproxy; SCALE=N will not run" >&2
exit 0
