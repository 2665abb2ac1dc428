#!/bin/sh
# Installs every Debian package postseal needs to build, run and test.
# Idempotent: packages already present are not fetched again.
set -eu

PKGS="build-essential pkg-config clang clang-format libclang-rt-14-dev
libssl-dev openssl libmilter-dev libopendkim-dev libspf2-dev liblmdb-dev lmdb-utils
libhiredis-dev libevent-dev libcurl4-openssl-dev libinih-dev libcmocka-dev libsystemd-dev systemd
libpsl-dev publicsuffix zlib1g-dev
nginx-core nginx-dev
postfix swaks postsrsd libmail-srs-perl redis-server redis-sentinel dnsmasq-base bind9-dnsutils
lintian file adduser
python3 python3-pytest python3-pytest-timeout python3-dkim python3-nacl python3-cryptography python3-dnspython python3-django-anymail
python3-authres python3-yaml
libmail-dkim-perl libcryptx-perl opendkim opendkim-tools
libmail-dmarc-perl opendmarc libxml2-utils
valgrind strace wrk policyd-rate-limit postfwd prometheus"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages:$missing; run 'make deps' as root" >&2
    exit 2
fi
echo "deps: installing$missing"
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# policy-rc.d keeps the package scripts from starting system services we never use
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -q --no-install-recommends $missing
