#!/usr/bin/env bash
# Installs the third-party programs the test suite and the book checks use:
# socat and netcat (real clients the end-to-end tests drive the server with) and
# wrk (the HTTP load generator the hyper example is measured with).
# Debian/Ubuntu; run as root or with sudo. Safe to run again: it skips what is there.
set -euo pipefail

need=()
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v nc >/dev/null 2>&1 || need+=(netcat-openbsd)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ "${#need[@]}" -eq 0 ]; then
  echo "install-tools: socat, nc and wrk already installed"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-tools: installing ${need[*]}"
for attempt in 1 2 3; do
  if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null; then
    exit 0
  fi
  echo "install-tools: apt-get failed (attempt $attempt), retrying" >&2
  sleep 5
done
echo "install-tools: could not install ${need[*]}" >&2
exit 1
