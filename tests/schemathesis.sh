#!/usr/bin/env bash
# Fuzzes the JSON API from its own OpenAPI document with schemathesis (not part of `cargo test`).
#
# Starts `vocation serve --demo` on its own database and port, creates an administrator and an
# API token for it (administrators may use every staff operation), then runs schemathesis on
# the public operations and on the staff ones with the token, each bounded in time.
#
#   tests/schemathesis.sh                 # schemathesis from PATH, or from $SCHEMATHESIS
#   PORT=18480 EXAMPLES=50 tests/schemathesis.sh
#
# Needs PostgreSQL (DATABASE_URL's server, trust or password in the URL) and schemathesis
# (`pip install schemathesis`, 4.x). Exit status: schemathesis's (0 when nothing was found).
set -euo pipefail

cd "$(dirname "$0")/.."
PORT=${PORT:-18480}
EXAMPLES=${EXAMPLES:-50}
MAX_TIME=${MAX_TIME:-240}
DATABASE=${DATABASE:-vocation_schemathesis}
SERVER_URL=${SERVER_URL:-postgres://postgres@localhost:5432}
ST=${SCHEMATHESIS:-schemathesis}
BASE="http://127.0.0.1:$PORT"
export VOCATION__HTTP__PORT=$PORT
export VOCATION__DATABASE__URL="$SERVER_URL/$DATABASE"
# Many submissions from one address: the form's rate limit would answer 429 to most of them.
export VOCATION__HTTP__FORM_BURST=${FORM_BURST:-100000}

psql "$SERVER_URL/postgres" -qc "DROP DATABASE IF EXISTS $DATABASE" >/dev/null
psql "$SERVER_URL/postgres" -qc "CREATE DATABASE $DATABASE" >/dev/null
cargo build --quiet
BIN=target/debug/vocation
"$BIN" serve --demo >"${TMPDIR:-/tmp}/vocation-schemathesis.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
    curl -fsS "$BASE/api/openapi.json" >/dev/null 2>&1 && break
    sleep 1
done

# An administrator and a token for it (only the token's SHA-256 is stored).
EMAIL="schemathesis-$(date +%s)@exemple.fr"
head -c 24 /dev/urandom | base64 | "$BIN" user add --email "$EMAIL" --role admin --password-stdin >/dev/null
TOKEN="voc_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
psql "$VOCATION__DATABASE__URL" -qc "INSERT INTO api_tokens (staff_user_id, name, token_hash, created_at)
    SELECT id, 'schemathesis', encode(sha256(convert_to('$TOKEN', 'UTF8')), 'hex'), now()
    FROM staff_users WHERE email = '$EMAIL'" >/dev/null

# schemathesis keeps a cache in its working directory: run it from a scratch one.
CONFIG="$PWD/tests/schemathesis.toml"
SCRATCH=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
cd "$SCRATCH"
COMMON=(--url "$BASE" --checks all --max-examples "$EXAMPLES"
    --max-time "$MAX_TIME" --workers 1 --no-color --generation-database none --seed 1)
status=0
echo "== public operations"
timeout $((MAX_TIME + 120)) "$ST" --config-file "$CONFIG" run "$BASE/api/openapi.json" "${COMMON[@]}" --include-tag public || status=$?
echo "== staff operations, with a token"
timeout $((MAX_TIME + 120)) "$ST" --config-file "$CONFIG" run "$BASE/api/openapi.json" "${COMMON[@]}" --exclude-tag public \
    -H "Authorization: Bearer $TOKEN" || status=$?
exit "$status"
