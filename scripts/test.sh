#!/usr/bin/env bash
# The test run behind `make test` (make setup has run first).
#   1. the Alembic migrations apply to a throw-away SQLite database (and PostgreSQL when it answers),
#      and the models match them (`flask db check`: no upgrade operation left to generate)
#   2. pytest on SQLite, browser tests included
#   3. pytest on PostgreSQL at $PG_HOST:$PG_PORT, browser tests excluded, when the server answers
# Every step runs even if an earlier one failed; the script fails if any did.
# pytest's exit 5 ("no tests collected") counts as a failure.
set -uo pipefail

VENV="${VENV:-.venv}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PY="$VENV/bin/python"
FLASK=("$VENV/bin/flask" --app wsgi)
read -r -a PYTEST_EXTRA <<<"${PYTEST_ARGS:-}"

failures=()
step() { echo; echo "==> $*"; }

pg_answers() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3
    else
        "$PY" - "$PG_HOST" "$PG_PORT" <<'PYEOF'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
except OSError:
    sys.exit(1)
PYEOF
    fi
}

run_pytest() {  # run_pytest LABEL BACKEND ARGS...
    local label="$1" backend="$2"; shift 2
    step "pytest on $label"
    SUIJI_TEST_DB="$backend" "$PY" -m pytest "$@" ${PYTEST_EXTRA[@]+"${PYTEST_EXTRA[@]}"}
    local rc=$?
    if [ $rc -eq 5 ]; then
        echo "pytest on $label collected no tests: that counts as a failure"
    fi
    [ $rc -eq 0 ] || failures+=("pytest on $label (exit $rc)")
}

migrate_sqlite() {
    step "migrations: flask db upgrade + db check on a throw-away SQLite database"
    local tmp rc
    tmp="$(mktemp -d)"
    SUIJI_INSTANCE_DIR="$tmp" DATABASE_URL="sqlite:///$tmp/migrate-check.db" SECRET_KEY=migrate-check \
        "${FLASK[@]}" db upgrade
    rc=$?
    if [ $rc -eq 0 ]; then
        SUIJI_INSTANCE_DIR="$tmp" DATABASE_URL="sqlite:///$tmp/migrate-check.db" SECRET_KEY=migrate-check \
            "${FLASK[@]}" db check 2>&1 | grep -v '^INFO '
        [ "${PIPESTATUS[0]}" -eq 0 ] || failures+=("models differ from the migrations on SQLite (flask db check; run flask db migrate)")
    fi
    rm -rf "$tmp"
    [ $rc -eq 0 ] || failures+=("migrations on SQLite (exit $rc)")
}

migrate_postgres() {
    step "migrations: flask db upgrade + db check on a throw-away PostgreSQL database"
    local name="suiji_migrate_check_$$" rc tmp
    local admin="${SUIJI_TEST_PG_ADMIN:-postgresql://postgres@$PG_HOST:$PG_PORT/postgres}"
    if ! "$PY" -c "import psycopg,sys; psycopg.connect(sys.argv[1], autocommit=True).execute('CREATE DATABASE \"$name\"')" "$admin"; then
        failures+=("migrations on PostgreSQL (could not create a database)")
        return
    fi
    tmp="$(mktemp -d)"
    SUIJI_INSTANCE_DIR="$tmp" DATABASE_URL="${admin%/*}/$name" SECRET_KEY=migrate-check \
        "${FLASK[@]}" db upgrade
    rc=$?
    if [ $rc -eq 0 ]; then
        SUIJI_INSTANCE_DIR="$tmp" DATABASE_URL="${admin%/*}/$name" SECRET_KEY=migrate-check \
            "${FLASK[@]}" db check 2>&1 | grep -v '^INFO '
        [ "${PIPESTATUS[0]}" -eq 0 ] || failures+=("models differ from the migrations on PostgreSQL (flask db check; run flask db migrate)")
    fi
    rm -rf "$tmp"
    "$PY" -c "import psycopg,sys; psycopg.connect(sys.argv[1], autocommit=True).execute('DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)')" "$admin" || true
    [ $rc -eq 0 ] || failures+=("migrations on PostgreSQL (exit $rc)")
}

migrate_sqlite
run_pytest SQLite sqlite

if pg_answers; then
    migrate_postgres
    run_pytest PostgreSQL postgres -m "not browser"
else
    echo
    echo "PostgreSQL not reachable at $PG_HOST:$PG_PORT: skipping the PostgreSQL pass"
fi

echo
if [ ${#failures[@]} -ne 0 ]; then
    echo "make test FAILED:"
    printf '  - %s\n' "${failures[@]}"
    exit 1
fi
echo "make test: all passes succeeded"
