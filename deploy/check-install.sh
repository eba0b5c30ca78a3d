#!/usr/bin/env bash
# Installs, upgrades, removes and purges a ralo .deb in a throwaway Debian
# root, with dpkg's own maintainer-script handling (`dpkg --root` runs them
# chrooted there), and checks what each step leaves behind.
#
#   deploy/check-install.sh [DEB]    default: the newest arm64 package of deploy/build.sh
#
# Needs root and debootstrap (installed with apt when missing). The root is
# a minimal Debian 12 for this machine's architecture, made once at
# ${RALO_CHROOT:-/tmp/ralo-chroot} (about 200 MB, half a minute) and reused.
# The package is for the Pi, so dpkg is told to accept its architecture and
# its (arm64) library dependencies; nothing in it is executed, only the
# maintainer scripts (sh, adduser, deb-systemd-helper). No systemd runs in
# the root, so the units are enabled but not started, as on any image build.
# Prints one line per check and "N passed, N failed".
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${RALO_CHROOT:-/tmp/ralo-chroot}

deb=${1:-}
if [ -z "$deb" ]; then
    deb=$(ls -t "${CARGO_TARGET_DIR:-$repo/target}"/aarch64-unknown-linux-gnu/debian/ralo_*.deb 2>/dev/null | head -n1 || true)
fi
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
    echo "check-install: no package given or found; run deploy/build.sh first" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "check-install: needs root (dpkg --root, chroot)" >&2
    exit 1
fi

if [ ! -x "$root/usr/sbin/adduser" ]; then
    if ! command -v debootstrap >/dev/null; then
        apt-get install -y -qq debootstrap >/dev/null
    fi
    rm -rf "$root"
    echo "check-install: making a minimal Debian 12 root in $root"
    for try in 1 2 3; do
        if debootstrap --variant=minbase --include=adduser,init-system-helpers \
            bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1; then
            break
        fi
        echo "check-install: debootstrap failed (try $try of 3, see $root.log)" >&2
        rm -rf "$root"
        [ "$try" = 3 ] && exit 1
        sleep $((try * 5))
    done
fi

# shellcheck source=deploy/checks.sh
. "$(dirname "$0")/checks.sh"
in_root() { chroot "$root" "$@"; }
dpkg_root() { dpkg --root="$root" --force-architecture --force-depends "$@"; }

# Start from nothing, whatever an earlier run left.
dpkg_root --purge ralo >/dev/null 2>&1 || true

echo "check-install: $deb in $root"
check "install" dpkg_root --install "$deb"
check "user ralo exists, a system user without login" sh -c "chroot '$root' getent passwd ralo | grep -q ':/usr/sbin/nologin$'"
check "/var/lib/ralo belongs to ralo" test "$(in_root stat -c %U:%G /var/lib/ralo)" = ralo:ralo
check "/usr/bin/ralo installed" test -x "$root/usr/bin/ralo"
check "/etc/ralo/ralo.toml installed" cmp "$root/etc/ralo/ralo.toml" "$repo/deploy/ralo.toml"
wants="$root/etc/systemd/system/multi-user.target.wants"
for unit in ralo ralo-update ralo-web; do
    check "$unit.service enabled" test -L "$wants/$unit.service"
done
check "/etc/ralo/ralo.toml is root:ralo and group-writable" \
    test "$(in_root stat -c %U:%G:%A /etc/ralo/ralo.toml)" = root:ralo:-rw-rw-r--

# The household edits its lists, then upgrades (same package again).
echo "ads.household.example" >>"$root/etc/ralo/block.txt"
echo "state" >"$root/var/lib/ralo/image.bin"
check "upgrade (reinstall)" dpkg_root --install "$deb"
check "upgrade keeps the household's block.txt" grep -qx "ads.household.example" "$root/etc/ralo/block.txt"
check "upgrade keeps /var/lib/ralo" test -f "$root/var/lib/ralo/image.bin"
check "upgrade keeps /etc/ralo/block.txt group-writable" \
    test "$(in_root stat -c %G:%A /etc/ralo/block.txt)" = ralo:-rw-rw-r--

check "remove" dpkg_root --remove ralo
check "remove deletes /usr/bin/ralo" test ! -e "$root/usr/bin/ralo"
check "remove keeps /etc/ralo" grep -qx "ads.household.example" "$root/etc/ralo/block.txt"
check "remove keeps the user and /var/lib/ralo" sh -c "chroot '$root' getent passwd ralo && test -f '$root/var/lib/ralo/image.bin'"

check "purge" dpkg_root --purge ralo
check "purge deletes /etc/ralo" test ! -e "$root/etc/ralo"
check "purge deletes /var/lib/ralo" test ! -e "$root/var/lib/ralo"
check "purge deletes the user and group" sh -c "! chroot '$root' getent passwd ralo && ! chroot '$root' getent group ralo"
for unit in ralo ralo-update ralo-web; do
    check "purge disables $unit.service" test ! -e "$wants/$unit.service"
done
check "dpkg forgets ralo" sh -c "! dpkg --root='$root' -s ralo"

summary
