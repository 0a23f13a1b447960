#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Makes a signed RAUC bundle (dm-verity format) from a root file system slot image.
#
# Usage: image-build/bundle.sh --rootfs FILE.ext4 --version V --out FILE.raucb
#                              [--compatible C] [--build B] [--set-release] [--work DIR]
# --set-release writes V (and B) into a copy of the slot image's /etc/switchboard/release.json
# first, with debugfs (no mounts): an update bundle of another version from an image already
# built, for trying updates. Keys: SWITCHBOARD_SIGNING_CERT, SWITCHBOARD_SIGNING_KEY and
# SWITCHBOARD_KEYRING, else the development keys in image-build/dev-keys.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() {
  printf 'bundle: error: %s\n' "$*" >&2
  exit 1
}

rootfs= version= out= compatible=switchboard-sim-demo build= set_release=0 work=
while (($# > 0)); do
  case $1 in
  --rootfs) rootfs=${2:?}; shift 2 ;;
  --version) version=${2:?}; shift 2 ;;
  --out) out=${2:?}; shift 2 ;;
  --compatible) compatible=${2:?}; shift 2 ;;
  --build) build=${2:?}; shift 2 ;;
  --set-release) set_release=1; shift ;;
  --work) work=${2:?}; shift 2 ;;
  *) sed -n '5,6p' "$0" | sed 's/^# //' >&2; exit 2 ;;
  esac
done
[[ -f $rootfs ]] || die "--rootfs: no slot image \"$rootfs\""
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "--version must be a semantic version, not \"$version\""
[[ -n $out ]] || die "--out names the bundle file to write"
build=${build:-$version}

cert=${SWITCHBOARD_SIGNING_CERT:-$here/dev-keys/dev-signing.cert.pem}
key=${SWITCHBOARD_SIGNING_KEY:-$here/dev-keys/dev-signing.key.pem}
keyring=${SWITCHBOARD_KEYRING:-$here/dev-keys/dev-ca.cert.pem}

own_work=0
if [[ -z $work ]]; then
  work=$(mktemp -d)
  own_work=1
fi
trap '((own_work)) && rm -rf "$work"' EXIT
rm -rf "$work/content"
mkdir -p "$work/content"

if ((set_release)); then
  cp --sparse=always "$rootfs" "$work/content/rootfs.ext4"
  model=${compatible#switchboard-}
  printf '{"model":"%s","version":"%s","compatible":"%s","build":"%s"}\n' \
    "$model" "$version" "$compatible" "$build" >"$work/release.json"
  debugfs -w -R 'rm /etc/switchboard/release.json' "$work/content/rootfs.ext4" >/dev/null 2>&1
  debugfs -w -R "write $work/release.json /etc/switchboard/release.json" "$work/content/rootfs.ext4" \
    >/dev/null 2>&1
  [[ $(debugfs -R 'cat /etc/switchboard/release.json' "$work/content/rootfs.ext4" 2>/dev/null) == "$(cat "$work/release.json")" ]] ||
    die "could not write release.json into the copy of $rootfs"
else
  # A hard link when the work directory is on the same file system, else a sparse copy.
  ln "$rootfs" "$work/content/rootfs.ext4" 2>/dev/null || cp --sparse=always "$rootfs" "$work/content/rootfs.ext4"
fi

cat >"$work/content/manifest.raucm" <<EOF
[update]
compatible=$compatible
version=$version
build=$build
description=Switchboard firmware $version

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
EOF

# The check-purpose of the box's system.conf, so the signature is checked here as the box will.
cat >"$work/system.conf" <<EOF
[system]
compatible=$compatible
bootloader=noop
[keyring]
path=$keyring
check-purpose=codesign
EOF
rm -f "$out"
rauc --conf="$work/system.conf" --cert="$cert" --key="$key" --keyring="$keyring" \
  bundle "$work/content" "$out" >"$work/rauc.log" 2>&1 || {
  cat "$work/rauc.log" >&2
  die "rauc bundle failed"
}
rauc --conf="$work/system.conf" --keyring="$keyring" info "$out" >"$work/info.log" 2>&1 || {
  cat "$work/info.log" >&2
  die "rauc info does not accept the bundle it just made"
}
printf 'bundle: %s (%s, version %s)\n' "$out" "$compatible" "$version" >&2
