#!/usr/bin/env sh
# Generates the secrets docker-compose.yml mounts, into ./secrets (git-ignored):
#   ca.pem                    the development CA every certificate below is signed by (its key stays in secrets/ca/)
#   temporal.pem/.key         the Temporal frontend's certificate (names: temporal, localhost, 127.0.0.1)
#   worker.pem/.key           client certificates for mTLS: the worker, the platform's client, the
#   platform.pem/.key         admin tools (schema setup, search attributes, CLI) and the Web UI
#   admin.pem/.key
#   ui.pem/.key
#   postgres-password         PostgreSQL's password (random)
#   codec-keys.json           CODEC_KEYS: one random AES-256 key, id = the current month
#   codec-server-token        the bearer token operators give the codec server
#   hubspot-accounts.json     copied from secrets.example/ (edit it: your accounts)
#   acme-eu-token             placeholder for the example account's private-app token (replace it)
# Existing files are kept: run it again after deleting a file to regenerate that one.
# Development certificates only: production uses the organisation's CA and its own rotation.
#   scripts/dev-secrets.sh [directory]
set -eu

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/secrets}"
days=825
mkdir -p "$dir/ca"
chmod 700 "$dir" "$dir/ca"
cd "$dir"

command -v openssl >/dev/null || { echo "openssl is needed" >&2; exit 1; }

random() { openssl rand -hex "$1"; }

if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days "$days" \
    -subj "/CN=hubspot-contact-sync development CA" \
    -keyout ca/ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "created ca.pem"
fi

# cert <name> <common name> <extended key usage> [subjectAltName]
cert() {
  [ -f "$1.pem" ] && return 0
  ext="$(mktemp)"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"
    [ -n "${4:-}" ] && echo "subjectAltName=$4"
  } >"$ext"
  openssl req -newkey rsa:2048 -sha256 -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -sha256 -days "$days" -in "$1.csr" -CA ca.pem -CAkey ca/ca.key -CAserial ca/ca.srl -CAcreateserial -extfile "$ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$ext"
  echo "created $1.pem"
}

# The frontend's certificate also serves its internal clients (the server's own system worker).
cert temporal temporal "serverAuth,clientAuth" "DNS:temporal,DNS:localhost,IP:127.0.0.1"
cert worker hubspot-contact-sync-worker clientAuth
cert platform platform-client clientAuth
cert admin temporal-admin clientAuth
cert ui temporal-ui clientAuth

[ -f postgres-password ] || { random 24 >postgres-password; echo "created postgres-password"; }
[ -f codec-server-token ] || { random 32 >codec-server-token; echo "created codec-server-token"; }
if [ ! -f codec-keys.json ]; then
  printf '{"%s":"%s"}\n' "$(date -u +%Y-%m)" "$(openssl rand -base64 32)" >codec-keys.json
  echo "created codec-keys.json"
fi
example="$root/secrets.example"
[ -f hubspot-accounts.json ] || [ ! -f "$example/hubspot-accounts.json" ] || { cp "$example/hubspot-accounts.json" .; echo "copied hubspot-accounts.json (edit it)"; }
[ -f acme-eu-token ] || { echo "REPLACE-WITH-THE-PRIVATE-APP-TOKEN" >acme-eu-token; echo "created acme-eu-token (replace its content)"; }

# Readable inside the containers (they run as their own users); the directory keeps others out on this machine.
chmod 644 ./*.pem ./*.key postgres-password codec-server-token codec-keys.json hubspot-accounts.json acme-eu-token 2>/dev/null || true
chmod 600 ca/ca.key
