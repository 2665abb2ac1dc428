#!/bin/sh
# The first steps of an admin, run by `make demo`: generate an RSA and an
# Ed25519 DKIM key for example.test, print the DNS records to publish and
# check a configuration naming them, in a throw-away directory.
# Usage: scripts/demo.sh BUILD_DIR
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
[ -x "$1/postseal" ] || { echo "demo: $1/postseal not built (run make)" >&2; exit 1; }
postseal=$(cd "$1" && pwd)/postseal

work=$(mktemp -d "${TMPDIR:-/tmp}/postseal-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work"

domain=example.test
step() { printf '\n==== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. Generate the DKIM keys (written with mode 0600, never overwritten)"
run "$postseal" keygen --domain $domain --selector s2026r --algorithm rsa --bits 2048
run "$postseal" keygen --domain $domain --selector s2026e --algorithm ed25519
ls -l "$work"

for sel in s2026r s2026e; do
    step "2. The DNS records for $domain with the $sel key"
    run "$postseal" dns --domain $domain --selector $sel --key $domain.$sel.pem \
        --return-path rp.$domain --dmarc-rua postmaster@$domain
done

step "3. A postseal.conf naming both keys, checked with every file it names"
printf 'base64:%s\n' "$(head -c 32 /dev/urandom | base64)" > retpath.secrets
chmod 600 retpath.secrets
cat > postseal.conf <<CONF
[keys]
rsa = $domain s2026r $work/$domain.s2026r.pem
ed  = $domain s2026e $work/$domain.s2026e.pem

[signing]
$domain = rsa, ed

[return_path]
domain = rp.$domain
secret_file = $work/retpath.secrets
CONF
cat postseal.conf
run "$postseal" check -c postseal.conf

step "What the admin does next"
cat <<NEXT
- Move the keys and the secret file to /etc/postseal/ (mode 0600, owned by
  the user postseal-milter runs as), write /etc/postseal/postseal.conf like
  the one above, and run 'postseal check -c /etc/postseal/postseal.conf'.
- Publish the records printed above in the $domain zone: both DKIM records,
  the SPF and DMARC records once (both runs print the same ones; merge SPF
  with any existing v=spf1 record), and the return-path MX and SPF, with
  '--mx HOST' naming the Postfix host that receives the bounces instead of
  mail.$domain. 'postseal dns -c /etc/postseal/postseal.conf' prints them
  all in one go.
- When they are visible, 'postseal dns check -c /etc/postseal/postseal.conf'
  must print only "ok" lines; then add postseal-milter to Postfix's
  smtpd_milters and non_smtpd_milters.
NEXT
