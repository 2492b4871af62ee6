#!/usr/bin/env bash
# Writes a receipt keyring (libs/crypto/signing_keys.h) to FILE (default
# ./data/receipt-keyring.yaml) unless it exists: one fresh Ed25519 key in a PEM file beside it
# (mode 0600), id = today's date. With --rotate, adds a new key at the end of an existing keyring
# (it signs from then on; older keys stay listed so that old receipts keep verifying); then send
# consentd SIGHUP or restart it.
#   tools/receipt-keyring.sh [FILE] [--rotate]
set -euo pipefail
FILE="data/receipt-keyring.yaml"
ROTATE=0
for arg in "$@"; do
  case "$arg" in
    --rotate) ROTATE=1 ;;
    *) FILE="$arg" ;;
  esac
done
if [[ -s "$FILE" && "$ROTATE" == 0 ]]; then exit 0; fi
mkdir -p "$(dirname "$FILE")"
umask 077
id="$(date -u +%Y%m%d)-$(openssl rand -hex 3)"
pem="receipt-$id.pem"
openssl genpkey -algorithm ed25519 -out "$(dirname "$FILE")/$pem"
if [[ ! -s "$FILE" ]]; then
  printf 'keys:\n' > "$FILE"
fi
printf '  - id: "%s"\n    private_key_file: "%s"\n' "$id" "$pem" >> "$FILE"
