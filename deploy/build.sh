#!/usr/bin/env bash
# Cross-builds ralo for the Raspberry Pi and packages it as a .deb.
#
#   deploy/build.sh                 aarch64 (Pi 3/4/5, 64-bit OS) and its .deb,
#                                   then armv7 (32-bit OS) where a toolchain can be had
#   deploy/build.sh --target aarch64|armv7|all
#   deploy/build.sh --no-deb        binaries only
#   deploy/build.sh --no-install    never run apt-get or `cargo install`
#
# It uses what the machine has, in this order, and says which:
#   rustup   the target's std from `rustup target add` and the GNU cross linker
#   zigbuild `cargo zigbuild` (zig links; the std still comes from rustup)
#   cross    `cross` with a working docker or podman
#   debian   Debian's own Rust (rustc-web, cargo-web) with the target's std
#            (libstd-rust-web-dev:ARCH) and the GNU cross linker: fully offline
#            from Debian's mirror. Installed here when missing (root, apt).
# RALO_CROSS=rustup|zigbuild|cross|debian forces one.
#
# Binaries land in ${CARGO_TARGET_DIR:-target}/TRIPLE/release/ralo, packages
# in ${CARGO_TARGET_DIR:-target}/TRIPLE/debian/. The linker is passed in the
# environment, never through a committed .cargo/config, so ordinary builds
# are untouched. Needs [package.metadata.deb] in Cargo.toml for the .deb.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

targets=(aarch64 armv7)
want_deb=1
may_install=1
while [ $# -gt 0 ]; do
    case "$1" in
        --target)
            case "${2:-}" in
                aarch64 | armv7) targets=("$2") ;;
                all) targets=(aarch64 armv7) ;;
                *) echo "build.sh: --target takes aarch64, armv7 or all" >&2; exit 2 ;;
            esac
            shift 2 ;;
        --no-deb) want_deb=0; shift ;;
        --no-install) may_install=0; shift ;;
        -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

target_dir=${CARGO_TARGET_DIR:-$repo/target}
case "$target_dir" in /*) ;; *) target_dir=$repo/$target_dir ;; esac

say() { echo "build.sh: $*" >&2; }

# Per short name: Rust triple, GNU tool prefix, Debian architecture.
triple_of() { case "$1" in aarch64) echo aarch64-unknown-linux-gnu ;; armv7) echo armv7-unknown-linux-gnueabihf ;; esac; }
prefix_of() { case "$1" in aarch64) echo aarch64-linux-gnu ;; armv7) echo arm-linux-gnueabihf ;; esac; }
debarch_of() { case "$1" in aarch64) echo arm64 ;; armv7) echo armhf ;; esac; }

have() { command -v "$1" >/dev/null 2>&1; }

# The crate's rust-version, to refuse an older Debian rustc early.
msrv=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml | head -n1)
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# --- the Debian toolchain -------------------------------------------------

# Version of an installed package, or nothing.
installed_version() { dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' "$1" 2>/dev/null | awk '$1 == "ii" { print $2 }'; }
candidate_version() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }

# Debian's rustc and the target's std, same version, and the cross linker.
debian_ready() {
    local arch=$1 prefix=$2 rustc_v std_v
    [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] && have "$prefix-gcc" && have dpkg-query || return 1
    rustc_v=$(installed_version rustc-web)
    std_v=$(installed_version "libstd-rust-web-dev:$arch")
    [ -n "$rustc_v" ] && [ "$rustc_v" = "$std_v" ]
}

# apt-get update for the native architecture and $1 only: a broken index of
# another foreign architecture (say armhf mid-sync on the security mirror)
# then cannot make apt drop the whole repository's fresh indexes. Retries a
# few times; errors that remain are reported and left to the version check.
apt_update_for() {
    local arch=$1 try
    for try in 1 2 3; do
        if apt-get update -qq -o "APT::Architectures::=$(dpkg --print-architecture)" \
            -o "APT::Architectures::=$arch" >/dev/null; then
            return 0
        fi
        say "apt-get update reported errors (try $try of 3; a mirror sync in progress passes); retrying"
        sleep $((try * 5))
    done
    say "apt-get update still reports errors; going on with the indexes apt has"
}

apt_install() {
    local try
    for try in 1 2 3; do
        if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
            return 0
        fi
        say "apt-get install failed (try $try of 3); retrying"
        sleep $((try * 5))
    done
    return 1
}

# Installs Debian's Rust, the std for $arch and the cross linker; fails with
# the reason when the mirror does not offer a matching std.
install_debian() {
    local arch=$1 prefix=$2 rustc_c std_c
    if [ "$may_install" = 0 ]; then
        say "--no-install: not installing Debian's toolchain for $arch"
        return 1
    fi
    if [ "$(id -u)" != 0 ] || ! have apt-get; then
        say "the Debian toolchain for $arch is missing; as root on Debian 12, run:"
        say "  dpkg --add-architecture $arch && apt-get update && apt-get install rustc-web cargo-web libstd-rust-web-dev:$arch gcc-$prefix qemu-user"
        return 1
    fi
    local added=0
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
        dpkg --add-architecture "$arch"
        added=1
    fi
    apt_update_for "$arch"
    rustc_c=$(candidate_version rustc-web)
    std_c=$(candidate_version "libstd-rust-web-dev:$arch")
    if [ -z "$rustc_c" ] || [ "$rustc_c" != "$std_c" ]; then
        say "Debian offers rustc-web ${rustc_c:-none} but libstd-rust-web-dev:$arch ${std_c:-none}:"
        say "  a std must match its compiler exactly; the $arch index that carries the matching"
        say "  std could not be fetched (see apt-get update). Try again later."
        # Leave no foreign architecture behind whose broken index would make
        # every later plain `apt-get update` on this machine fail.
        if [ "$added" = 1 ]; then dpkg --remove-architecture "$arch" 2>/dev/null || true; fi
        return 1
    fi
    say "installing Debian's Rust $rustc_c with the $arch std and the $prefix linker"
    apt_install rustc-web cargo-web "libstd-rust-web-dev:$arch" "gcc-$prefix" "libc6-dev-$arch-cross" qemu-user
}

# --- choosing a path --------------------------------------------------------

container_engine() { { have docker && docker info >/dev/null 2>&1; } || { have podman && podman info >/dev/null 2>&1; }; }
rustup_has() { have rustup && rustup target list --installed 2>/dev/null | grep -qx "$1"; }

choose_path() {
    local short=$1 triple prefix arch
    triple=$(triple_of "$short"); prefix=$(prefix_of "$short"); arch=$(debarch_of "$short")
    if [ -n "${RALO_CROSS:-}" ]; then
        echo "$RALO_CROSS"
        return
    fi
    if rustup_has "$triple" && have "$prefix-gcc"; then echo rustup; return; fi
    if rustup_has "$triple" && have zig && cargo zigbuild --version >/dev/null 2>&1; then echo zigbuild; return; fi
    if have cross && container_engine; then echo cross; return; fi
    if debian_ready "$arch" "$prefix"; then echo debian; return; fi
    if install_debian "$arch" "$prefix" && debian_ready "$arch" "$prefix"; then echo debian; return; fi
    echo none
}

env_name() { echo "$1" | tr 'a-z-' 'A-Z_'; }

build_one() {
    local short=$1 path=$2 triple prefix
    triple=$(triple_of "$short"); prefix=$(prefix_of "$short")
    local linker_var cc_var="CC_${triple//-/_}" ar_var="AR_${triple//-/_}"
    linker_var="CARGO_TARGET_$(env_name "$triple")_LINKER"
    case "$path" in
        rustup)
            env "$linker_var=$prefix-gcc" "$cc_var=$prefix-gcc" "$ar_var=$prefix-ar" \
                cargo build --release --locked --bin ralo --target "$triple" ;;
        zigbuild)
            cargo zigbuild --release --locked --bin ralo --target "$triple" ;;
        cross)
            cross build --release --locked --bin ralo --target "$triple" ;;
        debian)
            local v
            v=$(/usr/bin/rustc --version | awk '{ print $2 }')
            if [ -n "$msrv" ] && ! version_ge "$v" "$msrv"; then
                say "Debian's rustc is $v; ralo needs $msrv or newer"
                return 1
            fi
            # Debian's cargo and rustc by full path: rustup's shims come first on PATH,
            # and rustup's compiler cannot use Debian's std.
            env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
                "$linker_var=$prefix-gcc" "$cc_var=$prefix-gcc" "$ar_var=$prefix-ar" \
                /usr/bin/cargo build --release --locked --bin ralo --target "$triple" ;;
        *)
            return 1 ;;
    esac
}

ensure_cargo_deb() {
    if cargo deb --version >/dev/null 2>&1; then return 0; fi
    if [ "$may_install" = 0 ]; then
        say "cargo-deb is missing (cargo install cargo-deb --locked)"
        return 1
    fi
    say "installing cargo-deb from crates.io"
    cargo install cargo-deb --locked
}

package_one() {
    local short=$1 triple
    triple=$(triple_of "$short")
    if ! grep -q '^\[package\.metadata\.deb\]' Cargo.toml; then
        say "Cargo.toml has no [package.metadata.deb] section (see deploy/README.md, Packaging); no .deb"
        return 1
    fi
    ensure_cargo_deb || return 1
    # --no-build: the binary above is the one packaged. cargo-deb strips it
    # with $prefix-strip and maps target/release to target/TRIPLE/release.
    local out="$target_dir/$triple/debian" log
    mkdir -p "$out"
    log=$(mktemp)
    if ! cargo deb --target "$triple" --no-build --output "$out/" >"$log" 2>&1; then
        sed 's/^/  cargo-deb: /' "$log" >&2
        rm -f "$log"
        return 1
    fi
    sed 's/^/  cargo-deb: /' "$log" >&2
    # cargo-deb prints the package's path last.
    tail -n1 "$log"
    rm -f "$log"
}

# --- main -------------------------------------------------------------------

declare -A report
status=0
for short in "${targets[@]}"; do
    triple=$(triple_of "$short")
    path=$(choose_path "$short" | tail -n1)
    if [ "$path" = none ]; then
        if [ "$short" = aarch64 ]; then
            say "no way to build $triple here (see above); with internet: rustup target add $triple"
            status=1
        else
            say "skipping $triple: no toolchain for it here (see above)"
        fi
        report[$short]="$triple: not built (no toolchain)"
        continue
    fi
    say "building $triple with the $path path"
    started=$SECONDS
    if ! build_one "$short" "$path"; then
        say "building $triple with the $path path failed"
        report[$short]="$triple: build FAILED ($path path)"
        status=1
        continue
    fi
    bin="$target_dir/$triple/release/ralo"
    line="$triple: built with the $path path in $((SECONDS - started)) s: $bin"
    line+=$'\n'"    $(file -b "$bin" | cut -d, -f1-2), $(stat -c %s "$bin") bytes"
    strip_tool="$(prefix_of "$short")-strip"
    if have "$strip_tool"; then
        stripped=$(mktemp)
        "$strip_tool" -o "$stripped" "$bin"
        line+=", $(stat -c %s "$stripped") stripped"
        rm -f "$stripped"
    fi
    if [ "$want_deb" = 1 ]; then
        if deb=$(package_one "$short"); then
            line+=$'\n'"    package: $deb"
        else
            line+=$'\n'"    package: not made (see above)"
            [ "$short" = aarch64 ] && status=1
        fi
    fi
    report[$short]=$line
done

echo
echo "ralo for the Raspberry Pi:"
for short in "${targets[@]}"; do
    echo "  ${report[$short]}"
done
exit "$status"
