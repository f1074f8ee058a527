#!/usr/bin/env bash
# Runs the whole suite. Sets ACCORD_TEST_PG / ACCORD_TEST_NATS when the services answer.
set -u
cd "$(dirname "$0")/.."
BIN=.venv/bin
if [ -z "${ACCORD_TEST_PG:-}" ] && command -v pg_isready >/dev/null 2>&1 \
   && pg_isready -q -h 127.0.0.1 -p 5432; then
  export ACCORD_TEST_PG="postgresql://postgres@127.0.0.1:5432/postgres"
fi
if [ "${ACCORD_TEST_ENGINE:-sqlite}" = postgresql ] && [ -z "${ACCORD_TEST_PG:-}" ]; then
  echo "ACCORD_TEST_ENGINE=postgresql (make test-pg) needs PostgreSQL at 127.0.0.1:5432 or ACCORD_TEST_PG" >&2
  exit 1
fi
if [ -z "${ACCORD_TEST_NATS:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
  export ACCORD_TEST_NATS="nats://127.0.0.1:4222"
fi
if [ -f tests/interop/tsmls/package.json ] && command -v npm >/dev/null 2>&1; then
  if [ ! -d tests/interop/tsmls/node_modules ] || [ tests/interop/tsmls/package-lock.json -nt tests/interop/tsmls/node_modules ]; then
    (cd tests/interop/tsmls && npm ci --no-audit --no-fund --silent) || exit 1
  fi
fi
extra=()
if [ -n "${ACCORD_TEST_FULL:-}" ]; then extra+=(-m "slow or not slow"); else extra+=(-m "not slow"); fi
$BIN/python -m pytest "${extra[@]}" "$@"
rc=$?
# pytest exit 5 means no tests were collected: that is a failure for us, say so.
if [ $rc -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi
exit $rc
