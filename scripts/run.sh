#!/usr/bin/env bash
# The last step of `make run`: one background-jobs worker (timers, long jobs) and the web server.
# The worker uses the embedded SQLite job store (instance/huey.db): nothing else to install.
# When the server stops (Ctrl-C), the worker is stopped too.
set -euo pipefail

VENV="${VENV:-.venv}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
FLASK=("$VENV/bin/flask" --app wsgi)

"${FLASK[@]}" jobs worker --workers "${JOBS_WORKERS:-1}" &
worker=$!

stop_worker() {
    if kill -0 "$worker" 2>/dev/null; then
        kill -INT "$worker" 2>/dev/null || true   # Huey's graceful stop: running jobs finish
        for _ in $(seq 1 100); do
            kill -0 "$worker" 2>/dev/null || break
            sleep 0.1
        done
        kill -TERM "$worker" 2>/dev/null || true
    fi
    wait "$worker" 2>/dev/null || true
}
trap stop_worker EXIT

"${FLASK[@]}" run --host "$HOST" --port "$PORT"
