#!/usr/bin/env bash
# Makes a local certificate authority and a server certificate for 127.0.0.1/localhost in DIR
# (default ./data/pki), once: ca.pem / ca-key.pem, server.pem / server-key.pem (keys mode 0600).
# tools/run.sh serves the preference center over HTTPS with them, as RFC 8058 requires of one-click
# unsubscribe links. Trust ca.pem in a browser or `curl --cacert data/pki/ca.pem` to use them.
set -euo pipefail
DIR="${1:-data/pki}"
mkdir -p "$DIR"
umask 077
if [[ ! -s "$DIR/ca.pem" ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=Assent local development CA" -keyout "$DIR/ca-key.pem" -out "$DIR/ca.pem" 2>/dev/null
fi
if [[ ! -s "$DIR/server.pem" ]]; then
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$DIR/server-key.pem" -out "$DIR/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$DIR/server.ext"
  openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca-key.pem" \
    -CAcreateserial -days 825 -extfile "$DIR/server.ext" -out "$DIR/server.pem" 2>/dev/null
  rm -f "$DIR/server.csr" "$DIR/server.ext"
fi
chmod 0644 "$DIR/ca.pem" "$DIR/server.pem"
