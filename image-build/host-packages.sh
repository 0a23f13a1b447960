#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs the host's Debian packages for the image build (`build`) or the qemu image tests (`test`); idempotent.
set -euo pipefail

case ${1:-} in
build)
  # mmdebstrap: the root filesystem; e2fsprogs, dosfstools, mtools, fdisk: file systems and the
  # partition table without mounting anything; grub: the EFI loader; rauc: the bundle; openssl:
  # the keyring check; apt-utils: `apt-get download` of the dahdi tools.
  packages=(mmdebstrap e2fsprogs dosfstools mtools fdisk grub-efi-amd64-bin grub-common rauc
    squashfs-tools openssl systemd zstd kmod cpio)
  ;;
test)
  # qemu with OVMF's UEFI firmware boots the image; qemu-img makes throwaway overlays of it.
  packages=(qemu-system-x86 qemu-utils ovmf e2fsprogs rauc squashfs-tools python3)
  ;;
*)
  echo "usage: host-packages.sh build|test" >&2
  exit 2
  ;;
esac

installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for pkg in "${packages[@]}"; do
  grep -qxF "$pkg install ok installed" <<<"$installed" || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  echo "image-build: installing Debian packages: ${missing[*]}" >&2
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
