#!/usr/bin/env bash
# Install the Debian packages Suiji needs, but only those that are missing.
#   chromium           browser tests (Playwright drives /usr/bin/chromium)
#   fonts-noto-cjk     Chinese glyphs in the browser and in WeasyPrint PDFs
#   libpango*          WeasyPrint's text layout
#   npm / python3-venv only when the machine has no npm / no working venv module
# Skips apt with a visible message when not root or when there is no apt-get.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
packages=(chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0)
command -v npm >/dev/null 2>&1 || packages+=(npm)
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || packages+=(python3-venv)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get/dpkg on this machine: skipping system packages; install by hand if missing: ${packages[*]}"
    exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: system packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: not root: skipping apt; please install: sudo apt-get install ${missing[*]}"
    exit 0
fi

echo "setup: installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: installed ${missing[*]}"
