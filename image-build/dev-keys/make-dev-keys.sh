#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Makes the development signing keys (a CA and a signing certificate) that dev bundles are signed with.
# Release keys never live in the repository: a vendor points image-build at its own with
# SWITCHBOARD_SIGNING_CERT / SWITCHBOARD_SIGNING_KEY / SWITCHBOARD_KEYRING.
# The signing certificate names both codeSigning and emailProtection: RAUC checks the signer
# against OpenSSL's S/MIME signing purpose unless its system.conf says `check-purpose=codesign`,
# and `rauc info --keyring=...` on the command line (no system.conf) uses that default, which
# refuses a codeSigning-only certificate ("unsuitable certificate purpose"). Release keys need
# the same, or a system.conf with check-purpose=codesign on every box that verifies them.
set -euo pipefail
cd "$(dirname "$0")"
[[ -f dev-ca.cert.pem && ${1:-} != --force ]] && { echo "dev keys exist (--force to remake)"; exit 0; }
openssl req -x509 -newkey rsa:3072 -nodes -days 36500 -keyout dev-ca.key.pem -out dev-ca.cert.pem \
  -subj "/O=Switchboard development/CN=Switchboard development CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:3072 -nodes -keyout dev-signing.key.pem -out dev-signing.csr.pem \
  -subj "/O=Switchboard development/CN=Switchboard development bundle signing" 2>/dev/null
openssl x509 -req -in dev-signing.csr.pem -CA dev-ca.cert.pem -CAkey dev-ca.key.pem -CAcreateserial \
  -days 36500 -out dev-signing.cert.pem \
  -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning,emailProtection\n') 2>/dev/null
rm -f dev-signing.csr.pem dev-ca.cert.srl
echo "made dev-ca.cert.pem (the keyring), dev-signing.cert.pem and dev-signing.key.pem"
