#!/usr/bin/env sh
# A self-signed certificate for development and site trials: deploy/nginx/certs/{tls.crt,tls.key}.
# Production sites mount their own certificate in its place.
set -eu
DIR=${1:-$(dirname "$0")/certs}
NAME=${2:-localhost}
mkdir -p "$DIR"
openssl req -x509 -newkey rsa:2048 -sha256 -days 365 -nodes \
  -keyout "$DIR/tls.key" -out "$DIR/tls.crt" -subj "/CN=$NAME" \
  -addext "subjectAltName=DNS:$NAME,DNS:localhost,IP:127.0.0.1" 2>/dev/null
chmod 600 "$DIR/tls.key"
echo "wrote $DIR/tls.crt and $DIR/tls.key for $NAME"
