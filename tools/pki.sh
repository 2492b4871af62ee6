#!/usr/bin/env bash
# Makes a local certificate authority and certificates in DIR (default ./data/pki), once each:
#   ca.pem / ca-key.pem               the local CA
#   server.pem / server-key.pem       127.0.0.1 and localhost: consentd's gRPC (TLS) and the
#                                     preference center's HTTPS (RFC 8058 asks one-click
#                                     unsubscribe links to be https)
#   <name>.pem / <name>-key.pem       client certificates for mTLS to consentd, named by the SPIFFE
#                                     ID spiffe://assent.local/<name>, for admin (assentctl),
#                                     email-sender, sms-sender, ads-sync, prefcenter and load
# Keys are mode 0600. deploy/policy.example.yaml grants those principals what they need. Trust
# ca.pem in a browser or `curl --cacert data/pki/ca.pem` to use the HTTPS side.
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
for name in admin email-sender sms-sender ads-sync prefcenter load; do
  [[ -s "$DIR/$name.pem" ]] && continue
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
    -keyout "$DIR/$name-key.pem" -out "$DIR/$name.csr" 2>/dev/null
  printf 'subjectAltName=URI:spiffe://assent.local/%s\nextendedKeyUsage=clientAuth\n' "$name" \
    > "$DIR/$name.ext"
  openssl x509 -req -in "$DIR/$name.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca-key.pem" \
    -CAcreateserial -days 825 -extfile "$DIR/$name.ext" -out "$DIR/$name.pem" 2>/dev/null
  rm -f "$DIR/$name.csr" "$DIR/$name.ext"
  chmod 0644 "$DIR/$name.pem"
done
chmod 0644 "$DIR/ca.pem" "$DIR/server.pem"
