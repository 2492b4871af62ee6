#!/usr/bin/env bash
# Writes a link keyring (libs/links/keyring.h) with one fresh random key to FILE (default
# ./data/link-keyring.yaml) unless it exists. To rotate, append a key with a new id: new links are
# signed with the last one, and older links keep verifying while their key stays listed.
set -euo pipefail
FILE="${1:-data/link-keyring.yaml}"
[[ -s "$FILE" ]] && exit 0
mkdir -p "$(dirname "$FILE")"
umask 077
printf 'keys:\n  - id: "%s"\n    secret: "%s"\n' "$(date -u +%Y%m%d)" "$(openssl rand -base64 32)" > "$FILE"
