#!/usr/bin/env bash
# Install everything wwm's demo and tests need on a fresh Debian machine (run as root or with sudo).
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# Debian packages: web servers for the CGI gateway, compilers and runtimes for the templates,
# chromium for the web UI tests (Playwright drives it; it never downloads a browser of its own).
PKGS="lighttpd apache2 nginx-light inotify-tools gcc perl chromium"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js may come from elsewhere (with npm bundled): only install Debian's when there is none.
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
if [ -n "$missing" ]; then
    echo "setup: apt-get install$missing" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# The packaged lighttpd/apache2 services are not used: tests start their own on 127.0.0.1.

# Every gateway thread and every Program 1 keeps one inotify instance; the default of 128
# per user runs out when the suite runs its servers side by side, and a gateway without
# inotify polls (and cannot tell in-place writes). Raise it where we may (a VM or host).
if [ "$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 1024)" -lt 1024 ]; then
    $SUDO sysctl -q -w fs.inotify.max_user_instances=1024 >/dev/null 2>&1 \
        || echo "setup: could not raise fs.inotify.max_user_instances (a container?); tests may poll" >&2
fi

PY=${PYTHON:-python3}
# torch first, pinned: the CPU build. A looser requirement would pull gigabytes of CUDA packages.
$PY -c "import torch" 2>/dev/null || $PY -m pip install -q torch==2.13.0
$PY -m pip install -q -e ".[fungus,test,serve,knowledge,gym]"
echo "setup: done" >&2
