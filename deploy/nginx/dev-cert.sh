#!/usr/bin/env sh
# A self-signed certificate for development and site trials: deploy/nginx/certs/{tls.crt,tls.key},
# the folder docker-compose.yml mounts into nginx. Production sites put their own pair there.
#   deploy/nginx/dev-cert.sh [--name HOST] [--out DIR]
# Named flags only: a bare `dev-cert.sh vision.example.com` once wrote the pair into a folder called
# vision.example.com, and nginx found no certificate.
set -eu
usage() {
  echo "usage: $0 [--name HOST] [--out DIR]" >&2
  echo "  --name HOST  the name clients connect to (default localhost; localhost and 127.0.0.1 are always in it)" >&2
  echo "  --out DIR    where tls.crt and tls.key go" >&2
  echo "               (default: the certs folder beside this script, which compose mounts)" >&2
  exit 2
}
DIR=$(dirname "$0")/certs
NAME=localhost
while [ $# -gt 0 ]; do
  case "$1" in
    --name) [ $# -ge 2 ] || usage; NAME=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
    -h | --help) usage ;;
    *)
      echo "$0: unexpected argument '$1': give the host name as --name $1" >&2
      usage
      ;;
  esac
done
# A folder written like a host name (dots, no slash) is almost certainly a host name in the wrong place.
case "$DIR" in
  */*) ;;
  *.*)
    echo "$0: --out '$DIR' looks like a host name; use --name $DIR, or write ./$DIR for a folder of that name" >&2
    exit 2
    ;;
esac
mkdir -p "$DIR"
openssl req -x509 -newkey rsa:2048 -sha256 -days 365 -nodes \
  -keyout "$DIR/tls.key" -out "$DIR/tls.crt" -subj "/CN=$NAME" \
  -addext "subjectAltName=DNS:$NAME,DNS:localhost,IP:127.0.0.1" 2>/dev/null
chmod 600 "$DIR/tls.key"
echo "wrote $DIR/tls.crt and $DIR/tls.key for $NAME"
