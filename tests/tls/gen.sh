#!/usr/bin/env bash
# Regenerates the fixed test PKI of the TLS tests (run once; the outputs are committed):
# a test CA and four leaf certificates sharing one key, signed by it —
#   good.pem       127.0.0.1 / localhost, valid 2025–2125
#   expired.pem    127.0.0.1 / localhost, valid 2000–2001
#   future.pem     127.0.0.1 / localhost, valid 2120–2125 (not valid yet)
#   wronghost.pem  other.example.test only, valid 2025–2125
# Needs OpenSSL 3. Nothing here is a secret: the keys exist only for loopback tests.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
  -out ca.pem -subj "/CN=dcd test CA" -days 36500 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/leaf.key"
openssl pkcs8 -topk8 -nocrypt -in "$work/leaf.key" -out leaf.key

cat > "$work/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
dir = $work
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
CNF
touch "$work/index.txt"
echo 1000 > "$work/serial"

leaf() { # name start end san
  openssl req -new -key "$work/leaf.key" -subj "/CN=$1" -out "$work/$1.csr"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$4" > "$work/$1.ext"
  openssl ca -batch -config "$work/ca.cnf" -cert ca.pem -keyfile "$work/ca.key" \
    -in "$work/$1.csr" -out "$work/$1.full" -startdate "$2" -enddate "$3" -extfile "$work/$1.ext" -notext
  openssl x509 -in "$work/$1.full" -out "$1.pem"
}
leaf good 20250101000000Z 21250101000000Z "IP:127.0.0.1,DNS:localhost"
leaf expired 20000101000000Z 20010101000000Z "IP:127.0.0.1,DNS:localhost"
leaf future 21200101000000Z 21250101000000Z "IP:127.0.0.1,DNS:localhost"
leaf wronghost 20250101000000Z 21250101000000Z "DNS:other.example.test"
