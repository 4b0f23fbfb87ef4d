#!/bin/sh
# Regenerates the SOPS test vectors with the real sops (`cargo xtask tools` builds it into
# target/sops-tools/bin/). TEST ONLY: test-key.txt is a throwaway age key committed on purpose; it
# protects nothing but these fixtures.
set -eu
cd "$(dirname "$0")"
bin=${SOPS_TOOLS:-../../../../../target/sops-tools/bin}
[ -f test-key.txt ] || "$bin/age-keygen" -o test-key.txt 2>/dev/null
[ -f other-key.txt ] || "$bin/age-keygen" -o other-key.txt 2>/dev/null
recipient=$("$bin/age-keygen" -y test-key.txt)
sops() { "$bin/sops" encrypt --age "$recipient" "$@"; }
sops secret.yaml > secret.enc.yaml
sops --encrypted-regex '^(data|stringData)$' regex.yaml > regex.enc.yaml
sops secret.json > secret.enc.json
sops multi.yaml > multi.enc.yaml
# mac_only_encrypted is a creation-rule setting only.
printf 'creation_rules:\n  - age: %s\n    encrypted_suffix: _secret\n    mac_only_encrypted: true\n' "$recipient" > mac-only.sops.yaml
"$bin/sops" --config mac-only.sops.yaml encrypt suffix.yaml > suffix.enc.yaml
rm mac-only.sops.yaml
sops --unencrypted-regex '^(apiVersion|kind|metadata)$' regex.yaml > unencrypted-regex.enc.yaml
# dotenv: sops flattens its metadata into sops_* lines.
sops app.env > app.enc.env
printf 'creation_rules:\n  - age: %s\n    mac_only_encrypted: true\n' "$recipient" > mac-only.sops.yaml
"$bin/sops" --config mac-only.sops.yaml encrypt app.env > mac-only.enc.env
rm mac-only.sops.yaml
# binary: a JSON envelope whose `data` is the file, as a secretGenerator `files:` entry may hold it.
sops --input-type binary --output-type binary tls.key > tls.enc.key
# PGP: sops encrypts through gpg; pgp-test-key.asc is a throwaway TEST-ONLY key (no passphrase).
GNUPGHOME=$(mktemp -d)
export GNUPGHOME
gpg --batch --quiet --import pgp-test-key.asc
fingerprint=$(gpg --list-secret-keys --with-colons | awk -F: '/^fpr/ { print $10; exit }')
"$bin/sops" encrypt --pgp "$fingerprint" --encrypted-regex '^(data|stringData)$' regex.yaml > pgp.enc.yaml
"$bin/sops" encrypt --pgp "$fingerprint" app.env > pgp.enc.env
gpgconf --kill gpg-agent
rm -rf "$GNUPGHOME"
