#!/usr/bin/env bash
# The test command: installs the suite's system dependencies if missing, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
dotnet test Orleans.sln -c Release
