#!/bin/sh
# Install the build into a temporary prefix and build consumers of it with
# nothing but pkg-config: the minimal example linked against the shared
# library (and run), and again linked statically.
# Usage: check_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

meson install -C "$build" --destdir "$tmp" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp" -name libacme.pc | head -n 1)
[ -n "$pc" ] || { echo "libacme.pc was not installed"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$pc")
export PKG_CONFIG_PATH="$(dirname "$pc")"
pkgconf="pkg-config --define-variable=prefix=$tmp$prefix"

for f in acme.h acme/common.h acme/version.h acme/order.h acme/desire.h; do
    [ -f "$tmp$prefix/include/$f" ] || { echo "header $f was not installed"; exit 1; }
done

cc=${CC:-cc}
# Shared: the example must build and run (usage error exit 2 without args).
$cc -std=c11 -Wall -Werror -o "$tmp/consumer" "$src/examples/minimal.c" $($pkgconf --cflags --libs libacme)
libdir=$($pkgconf --variable=libdir libacme)
set +e
LD_LIBRARY_PATH="$libdir" "$tmp/consumer" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "shared consumer exited $rc, expected the usage status 2"; exit 1; }
LD_LIBRARY_PATH="$libdir" ldd "$tmp/consumer" | grep -q "$libdir/libacme.so" ||
    { echo "shared consumer does not load the installed libacme"; exit 1; }

# Static: libacme.a plus exactly what libacme.pc declares private (its own
# Libs.private, and the Requires.private modules linked as usual: a full
# "pkg-config --static" would also want static builds of libcurl's many
# dependencies, which Debian does not ship).
private_libs=$(sed -n 's/^Libs.private: //p' "$pc")
private_reqs=$(sed -n 's/^Requires.private: //p' "$pc" | sed 's/[<>=]=*  *[0-9.]*//g; s/,/ /g')
for want in -lmbedtls -lmbedx509 -lmbedcrypto; do
    case " $private_libs " in *" $want "*) ;; *) echo "Libs.private lacks $want"; exit 1 ;; esac
done
for want in libcurl yajl; do
    case " $private_reqs " in *" $want "*) ;; *) echo "Requires.private lacks $want"; exit 1 ;; esac
done
$cc -std=c11 -o "$tmp/consumer-static" "$src/examples/minimal.c" \
    $($pkgconf --cflags libacme) -L"$libdir" -Wl,-Bstatic -lacme -Wl,-Bdynamic \
    $private_libs $(pkg-config --libs $private_reqs)
if ldd "$tmp/consumer-static" | grep -q libacme; then
    echo "static consumer still needs libacme.so"; exit 1
fi
set +e
"$tmp/consumer-static" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "static consumer exited $rc, expected 2"; exit 1; }
echo "installed under $prefix; shared and static consumers built with pkg-config alone"
