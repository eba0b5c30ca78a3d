#!/usr/bin/env bash
# Checks a ralo .deb made by deploy/build.sh without installing it:
#
#   deploy/check-deb.sh [DEB]     default: the newest target/aarch64-unknown-linux-gnu/debian/*.deb
#
# - `dpkg-deb --info`: package name, architecture (from the file name),
#   dependencies, the three conffiles, the maintainer scripts;
# - `dpkg-deb --contents`: every expected path, with its mode;
# - the packaged binary is an ELF for the package's architecture, and the
#   packaged config is deploy/ralo.toml;
# - the maintainer scripts, run with stand-in commands (PATH holds only
#   stubs that log their arguments): postinst creates the user before any
#   unit is started, the group ralo may write /etc/ralo (the web page edits
#   lists), and purge removes the state folder and the user.
# Prints one line per check and "N passed, N failed".
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

deb=${1:-}
if [ -z "$deb" ]; then
    deb=$(ls -t "${CARGO_TARGET_DIR:-$repo/target}"/aarch64-unknown-linux-gnu/debian/ralo_*.deb 2>/dev/null | head -n1 || true)
fi
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
    echo "check-deb: no package given or found; run deploy/build.sh first" >&2
    exit 1
fi

arch=$(basename "$deb" .deb | awk -F_ '{ print $NF }')
case "$arch" in
    arm64) elf="ARM aarch64" ;;
    armhf) elf="ARM, EABI5" ;;
    amd64) elf="x86-64" ;;
    *) echo "check-deb: unexpected architecture '$arch' in $deb" >&2; exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=deploy/checks.sh
. "$(dirname "$0")/checks.sh"

echo "check-deb: $deb"
dpkg-deb --info "$deb" >"$work/info"
dpkg-deb --field "$deb" >"$work/control"
dpkg-deb --contents "$deb" >"$work/contents"
dpkg-deb --control "$deb" "$work/control.d"
dpkg-deb --extract "$deb" "$work/root"

field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$work/control"; }
check "Package: ralo" test "$(field Package)" = ralo
check "Architecture: $arch" test "$(field Architecture)" = "$arch"
check "Depends names adduser" grep -Eq '^Depends:.*adduser' "$work/control"
check "Depends names libc6" grep -Eq '^Depends:.*libc6' "$work/control"
check "Section: net" test "$(field Section)" = net
for script in postinst prerm postrm; do
    check "maintainer script $script present and executable" test -x "$work/control.d/$script"
done
for conf in /etc/ralo/ralo.toml /etc/ralo/block.txt /etc/ralo/allow.txt; do
    check "conffile $conf" grep -qx "$conf" "$work/control.d/conffiles"
done

has_path() { # mode pattern (as in `ls -l`), path
    awk -v m="$1" -v p="./$2" '$6 == p && $1 ~ m { found = 1 } END { exit !found }' "$work/contents"
}
check "/usr/bin/ralo, 755" has_path '^-rwxr-xr-x' usr/bin/ralo
for file in etc/ralo/ralo.toml etc/ralo/block.txt etc/ralo/allow.txt \
    usr/share/ralo/default.hosts usr/share/doc/ralo/copyright \
    usr/share/doc/ralo/README.md usr/share/doc/ralo/ralo.toml.reference \
    usr/lib/systemd/system/ralo.service usr/lib/systemd/system/ralo-update.service \
    usr/lib/systemd/system/ralo-web.service; do
    check "/$file, 644" has_path '^-rw-r--r--' "$file"
done
check "files owned by root" awk '{ if ($2 != "0/0") bad = 1 } END { exit bad }' "$work/contents"
check "/usr/bin/ralo is an ELF for $elf" sh -c "file -b '$work/root/usr/bin/ralo' | grep -q '$elf'"
check "/usr/bin/ralo is stripped" sh -c "file -b '$work/root/usr/bin/ralo' | grep -q ', stripped'"
check "/etc/ralo/ralo.toml is deploy/ralo.toml" cmp "$work/root/etc/ralo/ralo.toml" "$repo/deploy/ralo.toml"
for unit in ralo ralo-update ralo-web; do
    check "$unit.service is deploy/systemd/$unit.service" \
        cmp "$work/root/usr/lib/systemd/system/$unit.service" "$repo/deploy/systemd/$unit.service"
done

# The maintainer scripts against stand-ins. Only the stubs are on PATH, so a
# command the scripts did not expect fails the run instead of touching this
# machine. `getent passwd ralo` answers as $RALO_USER_EXISTS says.
stubs="$work/stubs"
mkdir -p "$stubs"
for cmd in adduser deluser delgroup install chgrp chmod rm rmdir systemctl deb-systemd-helper deb-systemd-invoke; do
    printf '#!/bin/sh\necho "%s $*" >>"$STUB_LOG"\nexit 0\n' "$cmd" >"$stubs/$cmd"
done
printf '#!/bin/sh\necho "getent $*" >>"$STUB_LOG"\n[ "$RALO_USER_EXISTS" = yes ]\n' >"$stubs/getent"
chmod 755 "$stubs"/*
run_script() { # log, user-exists, script, args...
    local log=$1 exists=$2 script=$3
    shift 3
    : >"$log"
    env -i PATH="$stubs" STUB_LOG="$log" RALO_USER_EXISTS="$exists" \
        /bin/sh "$work/control.d/$script" "$@"
}
first_line() { grep -n "$2" "$1" | head -n1 | cut -d: -f1; }

log="$work/postinst-new.log"
check "postinst configure (new install) runs" run_script "$log" no postinst configure
check "postinst creates the system user ralo" grep -q '^adduser .*--system.* ralo$' "$log"
check "postinst makes /var/lib/ralo owned by ralo" grep -q '^install -d -o ralo -g ralo .*/var/lib/ralo$' "$log"
for unit in ralo ralo-update ralo-web; do
    check "postinst enables $unit.service" grep -q "deb-systemd-helper enable $unit.service" "$log"
done
check "postinst lets group ralo write the config and the household's lists" sh -c \
    "grep -q '^chgrp ralo /etc/ralo /etc/ralo/ralo.toml /etc/ralo/block.txt /etc/ralo/allow.txt$' '$log' && grep -q '^chmod g+w /etc/ralo /etc/ralo/ralo.toml /etc/ralo/block.txt /etc/ralo/allow.txt$' '$log'"
check "postinst creates the user before any unit is touched" \
    test "$(first_line "$log" '^adduser')" -lt "$(first_line "$log" '^deb-systemd')"
log="$work/postinst-upgrade.log"
check "postinst configure (upgrade) runs" run_script "$log" yes postinst configure 0.0.1-1
check "postinst keeps an existing user" sh -c "! grep -q '^adduser' '$log'"
log="$work/postrm-remove.log"
check "postrm remove runs" run_script "$log" yes postrm remove
check "remove keeps state and user" sh -c "! grep -Eq '^(rm|deluser|delgroup) ' '$log'"
log="$work/postrm-purge.log"
check "postrm purge runs" run_script "$log" yes postrm purge
check "purge removes /var/lib/ralo" grep -q '^rm -rf /var/lib/ralo' "$log"
check "purge removes the user and group" sh -c "grep -q '^deluser .*ralo' '$log' && grep -q '^delgroup .*ralo' '$log'"
check "purge forgets the units" grep -q '^deb-systemd-helper purge ralo' "$log"
log="$work/prerm.log"
check "prerm remove runs" run_script "$log" yes prerm remove

summary
