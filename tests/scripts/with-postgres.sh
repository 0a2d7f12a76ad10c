#!/usr/bin/env bash
# Runs a command with TEST_POSTGRES_URL pointing at a private PostgreSQL, which is stopped and
# removed afterwards, also when the command fails or is interrupted.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=$(mktemp -d)
trap '"$here/postgres.sh" down "$state/pg"; rm -rf "$state"' EXIT
TEST_POSTGRES_URL=$("$here/postgres.sh" up "$state/pg")
export TEST_POSTGRES_URL
echo "==> PostgreSQL for tests at $TEST_POSTGRES_URL" >&2
"$@"
