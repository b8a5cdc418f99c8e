#!/usr/bin/env bash
# Makes a self-signed development certificate for a Shootdown cluster: a PKCS#12 file with its
# private key, which every silo (--tls-cert) and client (run --tls-cert) of the cluster is given.
# Silos and clients accept exactly this certificate from each other, so keep the file secret.
# Usage: make-dev-cert.sh OUT.pfx [DAYS]   (password, if any, from SHOOTDOWN_TLS_PASSWORD)
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: make-dev-cert.sh OUT.pfx [DAYS]" >&2
  exit 2
fi
out=$1
days=${2:-30}
[[ $days =~ ^[0-9]+$ ]] || { echo "make-dev-cert.sh: DAYS must be a whole number, not '$days'" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
  -subj "/CN=shootdown-dev-cluster" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
openssl pkcs12 -export -inkey "$work/key.pem" -in "$work/cert.pem" -out "$work/cluster.pfx" \
  -passout "pass:${SHOOTDOWN_TLS_PASSWORD:-}"
install -m 600 "$work/cluster.pfx" "$out"
echo "$out"
