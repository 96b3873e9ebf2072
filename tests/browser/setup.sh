#!/usr/bin/env bash
# Install what the browser tests need, once: Debian's chromium and the Noto CJK fonts
# (without them Chinese renders as boxes). Idempotent: does nothing when both are there.
# The playwright wheel comes from uv.lock (dev group); `playwright install` is never run.
set -euo pipefail

# axe-core (the accessibility checker the browser tests run in the page), from the npm
# registry with `npm pack`, pinned and checked; kept in tests/browser/.cache (git-ignored).
AXE_VERSION=4.14.1
AXE_SHA256=e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745
AXE_DIR="$(cd "$(dirname "$0")" && pwd)/.cache"
if [ ! -s "$AXE_DIR/axe-$AXE_VERSION.min.js" ]; then
  if command -v npm >/dev/null 2>&1; then
    tmp="$(mktemp -d)"
    if (cd "$tmp" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null 2>&1) \
       && echo "$AXE_SHA256  $tmp/axe-core-$AXE_VERSION.tgz" | sha256sum -c --quiet -; then
      mkdir -p "$AXE_DIR"
      tar -xzf "$tmp/axe-core-$AXE_VERSION.tgz" -C "$tmp" package/axe.min.js
      mv "$tmp/package/axe.min.js" "$AXE_DIR/axe-$AXE_VERSION.min.js"
      echo "browser tests: axe-core $AXE_VERSION in $AXE_DIR"
    else
      echo "browser tests: could not get axe-core $AXE_VERSION with npm (the axe tests will skip)" >&2
    fi
    rm -rf "$tmp"
  else
    echo "browser tests: npm not found, no axe-core (the axe tests will skip)" >&2
  fi
fi

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
