#!/usr/bin/env bash
# Build native/ (the C extension suiji_native: the draw's HMAC-SHA256 scores) and install it
# into the venv. Optional: when it cannot be built (no C compiler, no Python headers, no
# network for pip's build environment) this prints a warning and exits 1; `make setup` goes
# on, and draws use the pure-Python path (same results, several times slower).
set -uo pipefail

VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
log="$(mktemp "${TMPDIR:-/tmp}/suiji-native-build.XXXXXX")"

# Always compile from scratch, and leave nothing behind: setuptools reuses native/build when its
# files look newer than the sources, which after a checkout says nothing.
clean() { rm -rf native/build native/src/*.egg-info; }
clean
"$PY" -m pip install --disable-pip-version-check -q --force-reinstall --no-deps ./native >"$log" 2>&1
built=$?
clean
if [ $built -eq 0 ] && backend="$("$PY" -c 'import suiji_native; print(suiji_native.backend())' 2>>"$log")"; then
    rm -f "$log"
    echo "setup: built native/ (suiji_native, SHA-256 backend: $backend)"
    exit 0
fi

echo >&2
echo "************************************************************************************" >&2
echo "WARNING: the C extension native/ (suiji_native) could not be built." >&2
echo "Draws still work and give the same results through the pure-Python path, only slower." >&2
echo "It needs a C compiler and the Python headers (Debian: gcc, python3-dev). Last lines of $log:" >&2
tail -n 15 "$log" | sed 's/^/    /' >&2
echo "************************************************************************************" >&2
echo >&2
exit 1
