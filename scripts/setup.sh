#!/usr/bin/env bash
# Install everything wwm's demo and tests need on a fresh Debian machine (run as root or with sudo).
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# Debian packages: web servers for the CGI gateway, compilers and runtimes for the templates.
PKGS="lighttpd apache2 inotify-tools gcc perl"
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

PY=${PYTHON:-python3}
# torch first, pinned: the CPU build. A looser requirement would pull gigabytes of CUDA packages.
$PY -c "import torch" 2>/dev/null || $PY -m pip install -q torch==2.13.0
$PY -m pip install -q -e ".[fungus,test,serve,gym]"
echo "setup: done" >&2
