#!/usr/bin/env bash
# Install what the browser tests need, once: Debian's chromium and the Noto CJK fonts
# (without them Chinese renders as boxes). Idempotent: does nothing when both are there.
# The playwright wheel comes from uv.lock (dev group); `playwright install` is never run.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "install ok installed" \
  || missing+=(fonts-noto-cjk)

if [ ${#missing[@]} -eq 0 ]; then
  echo "browser tests: chromium and fonts-noto-cjk already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "browser tests: apt-get not found; install ${missing[*]} by hand (the tests skip without chromium)" >&2
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "browser tests: not root and no sudo; install ${missing[*]} by hand (the tests skip without chromium)" >&2
    exit 0
  fi
fi

echo "browser tests: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q "${missing[@]}"
