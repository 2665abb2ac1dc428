#!/bin/bash
# Builds ngx_http_webhook_verify_module.so against Debian's nginx sources
# (nginx-dev), linking libpostseal: build.sh ABS_BUILD_DIR
# ABS_LIBPOSTSEAL_A. The nginx tree is copied once to BUILD/ngx and
# configured again only when the module's config or the flags change.
set -eu

build=${1:?usage: build.sh ABS_BUILD_DIR ABS_LIBPOSTSEAL_A}
lib=${2:?usage: build.sh ABS_BUILD_DIR ABS_LIBPOSTSEAL_A}
repo=$(cd "$(dirname "$0")/.." && pwd)
src=/usr/share/nginx/src
ngx=$build/ngx
mod=ngx_http_webhook_verify_module

[ -f "$src/conf_flags" ] || { echo "$0: $src missing: apt-get install nginx-dev" >&2; exit 2; }
[ -f "$lib" ] || { echo "$0: $lib missing: build the library first" >&2; exit 2; }

if [ ! -f "$ngx/conf_flags" ]; then
    rm -rf "$ngx.tmp"
    cp -r "$src" "$ngx.tmp"
    mv "$ngx.tmp" "$ngx"
fi

cd "$ngx"
# shellcheck disable=SC1091
. ./conf_flags

# A sanitizer build (make SANITIZE=1: BUILD ends in -san) instruments the
# module too; nginx then runs it with LD_PRELOAD of libasan (see
# tests/integration/nginx_harness.py).
case $build in
*-san) san=-fsanitize=address,undefined
       NGX_CONF_FLAGS+=(--with-cc-opt="$san -fno-omit-frame-pointer" --with-ld-opt="$san") ;;
esac

# What configure bakes in: flags, library path, module config. Reconfigure
# only when one of them changed (or configure never finished).
stamp="$(printf '%s\n' "${NGX_CONF_FLAGS[@]}" "$lib" "$repo" | cksum) $(cksum < "$repo/nginx-module/config")"
if [ ! -f objs/Makefile ] || [ "$(cat objs/.postseal-stamp 2>/dev/null)" != "$stamp" ]; then
    POSTSEAL_LIB=$lib ./configure "${NGX_CONF_FLAGS[@]}" \
        --add-dynamic-module="$repo/nginx-module" >objs.configure.log 2>&1 ||
        { tail -30 objs.configure.log >&2; exit 1; }
    echo "$stamp" > objs/.postseal-stamp
fi

# The library is an input make does not know about: relink when it changed.
if [ -f "objs/$mod.so" ] && [ "$lib" -nt "objs/$mod.so" ]; then
    rm -f "objs/$mod.so"
fi

make -f objs/Makefile modules >objs.make.log 2>&1 || { cat objs.make.log >&2; exit 1; }
# A new file renamed into place: an nginx running the old module keeps its
# mapping instead of crashing on a file rewritten under it.
cp "objs/$mod.so" "$build/$mod.so.new"
mv -f "$build/$mod.so.new" "$build/$mod.so"
