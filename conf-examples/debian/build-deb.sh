#!/bin/sh
# Builds the Debian packages from the tree, without a debian/ directory at
# the top: conf-examples/debian/build-deb.sh OUT (make deb: OUT=build-deb).
#   OUT/build   the programs and the nginx module, built with dpkg-buildflags
#   OUT/stage   one root per package, staged by make install PREFIX=/usr
#   OUT/*.deb   postseal and libnginx-mod-http-webhook-verify (dpkg-deb)
# Depends are computed by dpkg-shlibdeps; the module depends on the nginx
# ABI of the nginx it was built against (nginx-abi-1.22.1-7 on Debian 12).
set -eu

out=${1:?usage: build-deb.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
mkdir -p "$out"
out=$(cd "$out" && pwd)
b=$out/build
stage=$out/stage

version=$(dpkg-parsechangelog -l "$here/changelog" -S Version)
maintainer=$(dpkg-parsechangelog -l "$here/changelog" -S Maintainer)
arch=$(dpkg --print-architecture)
abi=$(dpkg-query -W -f='${Provides}\n' nginx nginx-core nginx-light nginx-extras 2>/dev/null |
      tr ',' '\n' | grep -o 'nginx-abi-[^ ]*' | head -n 1 || true)
[ -n "$abi" ] || { echo "build-deb: no installed nginx provides nginx-abi-*: apt-get install nginx-core nginx-dev" >&2; exit 2; }

# Debian's hardening flags, all of them (the nginx module gets nginx's own,
# from nginx-dev). make does not track flags: a change starts OUT/build over.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)
if [ "$(cat "$b/.flags" 2>/dev/null)" != "$cflags $ldflags" ]; then
    rm -rf "$b"
    mkdir -p "$b"
    echo "$cflags $ldflags" > "$b/.flags"
fi
mk() { make --no-print-directory B="$b" CFLAGS="$cflags" LDFLAGS="$ldflags" "$@"; }
mk -j2 "$b/postseal" "$b/postseal-milter" "$b/postseal-policyd" "$b/ngx_http_webhook_verify_module.so"

rm -rf "$stage"
ps=$stage/postseal
ngx=$stage/libnginx-mod-http-webhook-verify
mk PREFIX=/usr DESTDIR="$ps" install-bin install-man install-units install-conf
mk PREFIX=/usr DESTDIR="$ngx" install-module
# /var/lib/postseal is made by postinst, owned by the postseal user
rm -rf "${ps:?}/var"
# the module's man page and nginx example belong to the module's package
install -d "$ngx/usr/share/man/man8" "$ngx/usr/share/doc/libnginx-mod-http-webhook-verify/examples"
mv "$ps"/usr/share/man/man8/ngx_http_webhook_verify_module.8 "$ngx/usr/share/man/man8/"
mv "$ps"/usr/share/doc/postseal/examples/nginx.conf \
   "$ngx/usr/share/doc/libnginx-mod-http-webhook-verify/examples/"

# Depends of the ELF files in a staged root, as dpkg-shlibdeps computes them
# (it wants a debian/control: a minimal one in the build directory).
shlibs() {
    mkdir -p "$out/shlibs/debian"
    printf 'Source: postseal\n\nPackage: %s\nArchitecture: any\n' "$1" > "$out/shlibs/debian/control"
    shift
    (cd "$out/shlibs" && dpkg-shlibdeps -O "$@" 2>/dev/null) |
        sed -n 's/^shlibs:Depends=//p'
}

for pkg in postseal libnginx-mod-http-webhook-verify; do
    d=$stage/$pkg
    doc=$d/usr/share/doc/$pkg
    install -d "$doc" "$d/DEBIAN"
    install -m 644 "$here/copyright" "$doc/copyright"
    gzip -9n < "$here/changelog" > "$doc/changelog.gz"
    chmod 644 "$doc/changelog.gz"
    # what dh_strip and dh_installman would do
    find "$d" -type f \( -perm -u+x -o -name '*.so' \) -exec sh -c \
        'file -b "$1" | grep -q ELF && strip --strip-unneeded --remove-section=.comment --remove-section=.note "$1"' _ {} \;
    find "$d/usr/share/man" -type f -name '*.[158]' -exec gzip -9n {} \;
    elves=$(find "$d" -type f \( -perm -u+x -o -name '*.so' \) -exec sh -c 'file -b "$1" | grep -q ELF && echo "$1"' _ {} \;)
    deps=$(shlibs "$pkg" $elves)
    [ -n "$deps" ] || { echo "build-deb: dpkg-shlibdeps found nothing for $pkg" >&2; exit 1; }
    size=$(du -sk --exclude=DEBIAN "$d" | cut -f1)
    sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
        -e "s|@SIZE@|$size|" -e "s|@SHLIBS@|$deps|" -e "s|@NGINX_ABI@|$abi|" \
        "$here/$pkg.control" > "$d/DEBIAN/control"
    for s in postinst prerm postrm conffiles; do
        [ -f "$here/$pkg.$s" ] || continue
        install -m 755 "$here/$pkg.$s" "$d/DEBIAN/$s"
    done
    [ ! -f "$d/DEBIAN/conffiles" ] || chmod 644 "$d/DEBIAN/conffiles"
    (cd "$d" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
        xargs -0 md5sum) > "$d/DEBIAN/md5sums"
    chmod 644 "$d/DEBIAN/md5sums"
    dpkg-deb --root-owner-group -Zxz --build "$d" "$out/${pkg}_${version}_$arch.deb" >/dev/null
    echo "$out/${pkg}_${version}_$arch.deb"
done
