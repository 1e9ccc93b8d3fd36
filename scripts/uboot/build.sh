#!/usr/bin/env bash
# Builds U-Boot from Debian's source package (trixie's u-boot 2025.01, the
# upstream tarball Debian ships, pinned by sha256) into DIR, once:
#   DIR/tools/      mkimage and fit_check_sign (tools-only_defconfig)
#   DIR/u-boot_2025.01.orig.tar.bz2   the source, for tests that build U-Boot as a recipe step
#   DIR/qemu_arm64/u-boot.bin   for QEMU's arm64 virt machine, and
#   DIR/qemu_riscv64/u-boot.bin for its riscv64 virt machine (S-mode, started
#                   by QEMU's OpenSBI), with FIT signatures, measured boot (TPM 2
#                   over MMIO, as QEMU's tpm-tis-device) and boot counting
#                   (pipeline/uboot.config, the configuration plinth builds U-Boot with)
# Debian's bookworm package is 2023.01, which has no measured boot.
set -euo pipefail
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
url=http://deb.debian.org/debian/pool/main/u/u-boot/u-boot_2025.01.orig.tar.bz2
sha=cdef7d507c93f1bbd9f015ea9bc21fa074268481405501945abc6f854d5b686f
# RISC-V's U-Boot where a riscv64 cross compiler is installed.
boards=arm64
command -v riscv64-linux-gnu-gcc >/dev/null && boards="arm64 riscv64"
stamp="$dir/.built-$( (cat "$here/../../pipeline/uboot.config"; echo "$boards with-source") | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsSL -o "$work/u-boot.tar.bz2" "$url"
echo "$sha  $work/u-boot.tar.bz2" | sha256sum -c --quiet
tar -xjf "$work/u-boot.tar.bz2" -C "$work"
src="$work/u-boot-2025.01"
jobs=$(nproc)
cp -a "$src" "$work/tools"
make -C "$work/tools" -s tools-only_defconfig
make -C "$work/tools" -s -j"$jobs" tools-only NO_SDL=1
build() { # DEFCONFIG CROSS_COMPILE OUT
    rm -rf "$work/$3"
    cp -a "$src" "$work/$3"
    (
        cd "$work/$3"
        export CROSS_COMPILE=$2
        make -s "$1"
        scripts/kconfig/merge_config.sh -m .config "$here/../../pipeline/uboot.config" >/dev/null
        make -s olddefconfig
        for opt in FIT_SIGNATURE MEASURED_BOOT TPM2_MMIO BOOTCOUNT_LIMIT; do
            grep -q "^CONFIG_$opt=y" .config || { echo "$1: CONFIG_$opt did not stay set" >&2; exit 1; }
        done
        make -s -j"$jobs"
    )
    mkdir -p "$dir/$3"
    install -m 0644 "$work/$3/u-boot.bin" "$dir/$3/u-boot.bin"
}
build qemu_arm64_defconfig aarch64-linux-gnu- qemu_arm64
case $boards in *riscv64*) build qemu-riscv64_smode_defconfig riscv64-linux-gnu- qemu_riscv64 ;; esac
mkdir -p "$dir/tools"
install -m 0755 "$work/tools/tools/mkimage" "$work/tools/tools/fit_check_sign" "$dir/tools/"
# The source too: a test builds U-Boot through a recipe from it (a mirror).
install -m 0644 "$work/u-boot.tar.bz2" "$dir/u-boot_2025.01.orig.tar.bz2"
touch "$stamp"
