#!/bin/sh
# The first steps of an admin, run by `make demo`, in a throw-away directory:
#  1-2. generate an RSA and an Ed25519 DKIM key for example.test and print
#       the DNS records to publish;
#  3.   sign a message with both keys through a private Postfix and
#       postseal-milter, and verify the signatures with dkimpy;
#  4.   hold a SASL login to 3 messages an hour with postseal-policyd;
#  5.   give outbound mail a signed return path and record a bounce to it;
#  5c.  a bounce reaches an application as a signed webhook (Standard
#       Webhooks), verified with postseal webhook verify;
#  6.   put nginx with the webhook module in front of an application: a
#       signed delivery passes, a forged one gets 401, a replay 409.
# Steps 3-5c are tests/demo/demo_mail.py (5c: demo_events.py) (tests/integration/mailstack.py's
# private Postfix under /var/tmp and smtp-sink, all on 127.0.0.1, stopped
# at exit), step 6 tests/demo/demo_webhook.py (Debian's nginx on a loopback
# port). Nothing outside the throw-away directories changes: /etc/postfix
# is never written (tests/integration/test_host_clean.py checks it after a
# run, a failure and a Ctrl-C).
# Usage: tests/demo/demo.sh BUILD_DIR
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
[ -x "$1/postseal" ] || { echo "demo: $1/postseal not built (run make)" >&2; exit 1; }
build=$(cd "$1" && pwd)
postseal=$build/postseal
root=$(cd "$(dirname "$0")/../.." && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/postseal-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
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
    printf '$ %s\n' "$postseal dns --domain $domain --selector $sel --key $domain.$sel.pem --return-path rp.$domain --dmarc-rua postmaster@$domain"
    # kept for step 3, which verifies against these exact records
    "$postseal" dns --domain $domain --selector $sel --key $domain.$sel.pem \
        --return-path rp.$domain --dmarc-rua postmaster@$domain > dns.$sel.txt
    cat dns.$sel.txt
done

/usr/bin/python3 "$root/tests/demo/demo_mail.py" "$build" "$work"
/usr/bin/python3 "$root/tests/demo/demo_webhook.py" "$build" "$work"

step "What the admin does next"
cat <<NEXT
- Move the keys to /etc/postseal/ (mode 0600, owned by the user
  postseal-milter runs as), write /etc/postseal/postseal.conf like the one
  above with the real domain, selectors and ports (defaults: milter
  inet:8891@127.0.0.1, policyd inet:127.0.0.1:10040, store
  lmdb:/var/lib/postseal/quota), and run
  'postseal check -c /etc/postseal/postseal.conf'.
- Publish the records printed in step 2 in the $domain zone: both DKIM
  records, the SPF and DMARC records once (both runs print the same ones;
  merge SPF with any existing v=spf1 record), and the return-path MX and
  SPF, with '--mx HOST' naming the Postfix host that receives the bounces
  instead of mail.$domain. 'postseal dns -c /etc/postseal/postseal.conf'
  prints them all in one go.
- When they are visible, 'postseal dns check -c /etc/postseal/postseal.conf'
  must print only "ok" lines; then start postseal-milter and
  postseal-policyd and add the main.cf lines shown in steps 3 and 4
  ('postfix reload'). On Debian, 'make deb' builds the packages that put
  all of this in place (README: Deploy on Debian).
- For step 5 on a real host: make Postfix accept mail for the return-path
  domain (relay_domains, or a transport that discards it once recorded:
  discard_bounces = yes) and point its MX at this host.
- For step 6: install the module (libnginx-mod-http-webhook-verify, or
  'make install'), put the provider's secret in a file of mode 0600, add
  the location shown above and run 'nginx -t' before 'systemctl reload nginx'.
NEXT
