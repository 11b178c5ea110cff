#!/usr/bin/env bash
# Make sure Debian's chromium is at /usr/bin/chromium for the docs site's browser test
# (tests/test_docs.py skips that test, saying why, when it is missing).
# Installs it with apt-get when running as root on a machine with apt; otherwise
# says why it did not and exits 0, so callers can run it unconditionally.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "ensure_chromium: $CHROMIUM is already installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_chromium: not installing chromium: not running as root (run: sudo apt-get install -y chromium)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: not installing chromium: apt-get is not available on this machine"
    exit 0
fi

echo "ensure_chromium: installing Debian's chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
if [ -x "$CHROMIUM" ]; then
    echo "ensure_chromium: installed $CHROMIUM"
else
    echo "ensure_chromium: apt-get finished but $CHROMIUM is still missing" >&2
    exit 1
fi
