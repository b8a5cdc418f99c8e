#!/usr/bin/env bash
# What the test suite needs beyond the .NET SDK, from Debian's packages: Chromium, for the HTML
# report's headless-browser test; redis-server, for clusters with Redis membership; iproute2, for
# the multi-host tests' network namespaces; openssl, for the development TLS certificate.
# Installs only what is missing; needs root (or sudo) and apt.
set -euo pipefail
declare -A wanted=([chromium]=chromium [redis-server]=redis-server [ip]=iproute2 [openssl]=openssl)
missing=()
for command in "${!wanted[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${wanted[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
