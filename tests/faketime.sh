#!/usr/bin/env bash
# Runs the test suite with the clock of the test processes moved (libfaketime, Debian package
# `faketime`): no test may depend on the calendar date.
#
#   tests/faketime.sh [OFFSET] [ARGS…]
#
# OFFSET is libfaketime's relative form, '+365d' by default ('+1826d' for five years). ARGS go
# to every test binary (test name filters, `--skip browser`, `--test-threads 1`…). Extra cargo
# flags come from CARGO_TEST_FLAGS (e.g. CARGO_TEST_FLAGS='--features browser').
#
# Only the test processes and what they start (`vocation serve`, the private PostgreSQL cluster
# of tests/api/faults.rs) see the moved clock: cargo builds with the real one, and the shared
# PostgreSQL on localhost:5432 keeps its own. The monotonic clock is left alone
# (FAKETIME_DONT_FAKE_MONOTONIC), so timeouts and sleeps behave as usual.
set -euo pipefail
cd "$(dirname "$0")/.."

offset='+365d'
if [ $# -gt 0 ] && [[ "$1" =~ ^[+-][0-9]+[smhdy]?$ ]]; then
  offset="$1"
  shift
fi

lib="${FAKETIME_LIB:-}"
if [ -z "$lib" ]; then
  for candidate in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1 \
    /usr/local/lib/faketime/libfaketimeMT.so.1; do
    if [ -f "$candidate" ]; then
      lib="$candidate"
      break
    fi
  done
fi
if [ -z "$lib" ] || [ ! -f "$lib" ]; then
  echo "libfaketimeMT.so.1 not found: apt-get install faketime (or set FAKETIME_LIB)" >&2
  exit 2
fi

# Build with the real clock and collect the test harnesses (the library's unit tests and
# tests/api), not the `vocation` binary the API tests start.
read -r -a cargo_flags <<<"${CARGO_TEST_FLAGS:-}"
mapfile -t binaries < <(
  cargo test --no-run --message-format=json "${cargo_flags[@]}" |
    grep '"reason":"compiler-artifact"' |
    grep -E '"profile":\{[^}]*"test":true' |
    grep -o '"executable":"[^"]*"' |
    cut -d'"' -f4
)
if [ ${#binaries[@]} -eq 0 ]; then
  echo "no test binary built" >&2
  exit 2
fi

echo "Clock moved by $offset ($(FAKETIME="$offset" LD_PRELOAD="$lib" date -u '+%Y-%m-%d %H:%M UTC'))"
status=0
for binary in "${binaries[@]}"; do
  echo "== $binary $*"
  if ! FAKETIME="$offset" FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$lib" "$binary" "$@"; then
    status=1
  fi
done
exit $status
