#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the x86-64 firmware: a bootable A/B GPT disk image and a signed RAUC bundle of the same version.
#
# Usage: image-build/build.sh [--version V] [--out DIR] [--cache DIR] [--slot-mib N] [--data-mib N]
#                             [--keep-work] [--no-bundle]
# Needs root (the root file system's owners and modes are written as they are on the box). Mounts
# nothing: mmdebstrap unpacks Debian into a directory, mkfs.ext4 -d and mkfs.vfat + mcopy make the
# file systems, sfdisk writes the partition table of the image file and dd puts the partitions in.
# See image-build/README.md for the layout, the boot scheme and the outputs.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
here=$repo/image-build
started=$(date +%s)

say() { printf 'image-build: %s\n' "$*" >&2; }
die() {
  printf 'image-build: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '5,6p' "$0" | sed 's/^# //' >&2
  exit 2
}

version=
out=$repo/image-build/out
cache=${SWITCHBOARD_IMAGE_CACHE:-/var/cache/switchboard-image-build}
slot_mib=1536
data_mib=512
keep_work=0
skip_bundle=0
while (($# > 0)); do
  case $1 in
  --version) version=${2:?--version needs a value}; shift 2 ;;
  --out) out=${2:?--out needs a directory}; shift 2 ;;
  --cache) cache=${2:?--cache needs a directory}; shift 2 ;;
  --slot-mib) slot_mib=${2:?--slot-mib needs a number}; shift 2 ;;
  --data-mib) data_mib=${2:?--data-mib needs a number}; shift 2 ;;
  --keep-work) keep_work=1; shift ;;
  --no-bundle) skip_bundle=1; shift ;;
  -h | --help) usage ;;
  *) printf 'image-build: unknown option %s\n' "$1" >&2; usage ;;
  esac
done
((EUID == 0)) || die "the image build runs as root (it writes the root file system's owners and modes)"
[[ $slot_mib =~ ^[0-9]+$ && $slot_mib -ge 256 ]] || die "--slot-mib must be a whole number of MiB, at least 256, not \"$slot_mib\""
[[ $data_mib =~ ^[0-9]+$ && $data_mib -ge 64 ]] || die "--data-mib must be a whole number of MiB, at least 64, not \"$data_mib\""

# --- what is built: model, version, keys --------------------------------------------------------
model=sim-demo
# The slots' GPT partition GUIDs: the kernel finds its root by them (GRUB passes root=PARTUUID=).
partuuid_a=7ce8f11d-a65d-4e0c-9ba4-c760f9968a9b
partuuid_b=6e209d5d-68b4-4241-ac49-12baf814edbf
compatible=switchboard-$model
pkg_version=$(node -p "require('$repo/package.json').version")
version=${version:-$pkg_version}
semver='^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'
[[ $version =~ $semver ]] || die "--version must be a semantic version (0.2.0, 0.2.0-dev.7), not \"$version\""
build_id=$(git -C "$repo" describe --always --dirty --tags 2>/dev/null || echo unknown)

keyring=${SWITCHBOARD_KEYRING:-$here/dev-keys/dev-ca.cert.pem}
signing_cert=${SWITCHBOARD_SIGNING_CERT:-$here/dev-keys/dev-signing.cert.pem}
signing_key=${SWITCHBOARD_SIGNING_KEY:-$here/dev-keys/dev-signing.key.pem}
keys=release
[[ -z ${SWITCHBOARD_SIGNING_KEY:-} ]] && keys=development
for f in "$keyring" "$signing_cert" "$signing_key"; do [[ -r $f ]] || die "cannot read $f"; done

# --- the parts of the working tree that go on the box must be built -----------------------------
addon=$repo/build/Release/switchboard.node
simd=$repo/native/sim/build/switchboard-simd
preload=$repo/native/sim/build/libdahdisim.so
for f in "$addon" "$simd" "$preload"; do
  [[ -f $f ]] || die "$f is not built: run \`bash scripts/setup.sh\` first"
done
# By modification times only (a fresh checkout can look newer than a build made from it): a warning.
[[ -z $(find "$repo/native/src" "$repo/binding.gyp" -newer "$addon" -print -quit) ]] ||
  say "warning: $addon is older than native/src (\`bash scripts/setup.sh\` rebuilds it)"
[[ -z $(find "$repo/native/sim" -path "$repo/native/sim/build" -prune -o -newer "$simd" -type f -print -quit) ]] ||
  say "warning: $simd is older than native/sim (\`bash scripts/setup.sh\` rebuilds it)"
[[ -d $repo/node_modules/tsx ]] || die "node_modules is not installed: run \`bash scripts/setup.sh\` first"
# The installer's web UI, built by setup.sh (web/dist is not in git).
[[ -f $repo/web/dist/index.html ]] || die "the web UI is not built (web/dist): run \`bash scripts/setup.sh\` first"
[[ -z $(find "$repo/web/src" -newer "$repo/web/dist/build.json" -print -quit) ]] ||
  say "warning: web/dist is older than web/src (\`bash scripts/setup.sh\` rebuilds it)"
node=$(command -v node)

bash "$here/host-packages.sh" build

mkdir -p "$out" "$cache"
out=$(cd "$out" && pwd)
work=$out/.work
rm -rf "$work"
mkdir -p "$work"
cleanup() { ((keep_work)) || rm -rf "$work"; }
trap cleanup EXIT

# --- 1. the Debian base, cached by its package list ---------------------------------------------
packages=$(grep -v '^\s*#' "$here/packages.txt" | grep -v '^\s*$' | tr '\n' ',' | sed 's/,$//')
dahdi_version=$(apt-cache policy dahdi | sed -n 's/^ *Candidate: //p')
[[ -n $dahdi_version && $dahdi_version != '(none)' ]] || die "apt knows no dahdi package (apt-get update?)"
# The key: the package list, the dahdi version and the options below (this file's lines between
# the two "base options" markers).
base_key=$(printf '%s\n' "$packages" "$dahdi_version" \
  "$(sed -n '/^# --- base options/,/^# --- end base options/p' "$0")" | sha256sum | head -c 16)
base=$cache/base-$base_key.tar
# --- base options (part of the cache key) ---
mmdebstrap_opts=(
  --variant=minbase
  --include="$packages"
  --aptopt='Apt::Install-Recommends "false"'
  # No manuals, translations or documentation on the box (the copyright files stay).
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/info/*'
  # The initramfs: zstd, and every storage driver (a box's disk controller is not known here).
  --setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" && printf "MODULES=most\nCOMPRESS=zstd\n" >"$1/etc/initramfs-tools/conf.d/switchboard"'
  # dahdi_cfg and friends without the dahdi package's kernel-module build dependencies
  # (dahdi-dkms or dahdi-source pull a compiler or debhelper onto the box).
  --customize-hook='dpkg-deb --fsys-tarfile "$DAHDI_DEB" | tar -x -C "$1" ./usr/sbin/dahdi_cfg ./usr/sbin/dahdi_scan ./usr/sbin/dahdi_test'
)
mirrors=(
  'deb http://deb.debian.org/debian bookworm main'
  'deb http://deb.debian.org/debian bookworm-updates main'
  'deb http://deb.debian.org/debian-security bookworm-security main'
)
# --- end base options ---
base_cached=false
if [[ -f $base ]]; then
  base_cached=true
  say "Debian base: cached $base"
else
  say "Debian base: mmdebstrap bookworm (not cached yet: $base)"
  rm -f "$cache"/base-*.tar # one base at a time: an old package list's base is never used again
  (cd "$work" && apt-get download -q "dahdi=$dahdi_version" 2>/dev/null)
  DAHDI_DEB=$(ls "$work"/dahdi_*.deb) mmdebstrap --format=tar "${mmdebstrap_opts[@]}" bookworm "$base.tmp" "${mirrors[@]}" \
    >"$out/mmdebstrap.log" 2>&1 || die "mmdebstrap failed, see $out/mmdebstrap.log"
  mv "$base.tmp" "$base"
fi
t_base=$(date +%s)

# --- 2. the root file system: base + Node.js + Switchboard + configuration ----------------------
rootfs=$work/rootfs
mkdir -p "$rootfs"
tar -x -p --numeric-owner -f "$base" -C "$rootfs"
say "root file system: Node.js $("$node" --version) and Switchboard $version ($build_id)"

# Kernel modules a voice switch never loads: graphics, sound, cameras and TV, radios, InfiniBand,
# industrial I/O, staging drivers (about 170 MiB); the initramfs was made before, with everything.
kver=$(ls "$rootfs/usr/lib/modules" | sort -V | tail -1)
mods=$rootfs/usr/lib/modules/$kver/kernel
rm -rf "$mods"/{sound,drivers/gpu,drivers/media,drivers/infiniband,drivers/iio,drivers/staging} \
  "$mods"/{drivers/comedi,drivers/net/wireless,drivers/bluetooth,drivers/isdn,net/wireless} \
  "$mods"/{net/mac80211,net/bluetooth}
depmod -b "$rootfs" "$kver"

install -m 0755 "$node" "$rootfs/usr/bin/node"

app=$rootfs/opt/switchboard
mkdir -p "$app"
# The working tree as it is (committed or not), less what only developers use.
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$repo" && while IFS= read -r -d '' f; do
    case $f in test/* | bench/* | image-build/* | .ci/* | scripts/* | node_modules/* | build/*) continue ;; esac
    [[ -f $f ]] && printf '%s\0' "$f"
  done) |
  (cd "$repo" && cpio -0 -p -d -m --quiet "$app")
install -D -m 0755 "$addon" "$app/build/Release/switchboard.node"
mkdir -p "$app/web"
cp -a "$repo/web/dist" "$app/web/dist"
for f in switchboard-simd libdahdisim.so dahdi_probe; do
  install -D -m 0755 "$repo/native/sim/build/$f" "$app/native/sim/build/$f"
done
# The command line and the controller compiled to one JavaScript module each (esbuild, packages
# left in node_modules): they start several times faster than through tsx, which counts on a
# slow box (and very much under qemu's software emulation). Two levels below the root, like
# src/runtime/paths.ts, so the paths the code derives from its own location hold. The launcher
# bin/switchboard.mjs runs the compiled command line; src/ stays for tsx (carrier, tools).
mkdir -p "$work/entries"
printf "export { main } from '%s/src/cli/main.ts';\n" "$repo" >"$work/entries/cli.ts"
printf "import '%s/src/controller/main.ts';\n" "$repo" >"$work/entries/controller.ts"
"$repo/node_modules/.bin/esbuild" "$work/entries/cli.ts" "$work/entries/controller.ts" --bundle \
  --platform=node --format=esm --target=node20 --packages=external --log-level=warning \
  --banner:js="// SPDX-License-Identifier: GPL-2.0-or-later" --outdir="$app/dist/switchboard" \
  --out-extension:.js=.mjs || die "esbuild could not compile the command line and the controller"
cat >"$app/bin/switchboard.mjs" <<'LAUNCHER'
#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// Launcher on an image: the command line as image-build compiled it (dist/switchboard/cli.mjs).
const { main } = await import('../dist/switchboard/cli.mjs');
process.exitCode = await main(process.argv.slice(2));
LAUNCHER
# Production node_modules: the developer's tree (native modules built against this very node
# binary), pruned of development packages and of native build leftovers.
cp -a "$repo/node_modules/." "$app/node_modules/"
rm -f "$app/node_modules/.switchboard-stamp"
(cd "$app" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null) ||
  die "npm prune --omit=dev failed in $app"
rm -rf "$app/node_modules/better-sqlite3/"{deps,src,build/Release/obj,build/Release/obj.target,build/Release/.deps,build/deps} \
  "$app/node_modules/better-sqlite3/build/Release/test_extension.node" "$app/node_modules/.cache"
# Prebuilt serialport bindings for other systems.
find "$app/node_modules/@serialport/bindings-cpp/prebuilds" -mindepth 1 -maxdepth 1 ! -name linux-x64 \
  -exec rm -rf {} + 2>/dev/null || true
rm -f "$app/node_modules/@serialport/bindings-cpp/prebuilds/linux-x64/"*musl*
# Each native module must load in this node (the one that goes on the box).
while IFS= read -r -d '' mod; do
  "$node" -e 'require(process.argv[1])' "$mod" || die "native module $mod does not load in $node"
done < <(find "$app/node_modules" "$app/build" -name '*.node' -print0)

# Configuration of the box.
install -d "$rootfs/etc/switchboard"
printf '{"model":"%s","version":"%s","compatible":"%s","build":"%s"}\n' \
  "$model" "$version" "$compatible" "$build_id" >"$rootfs/etc/switchboard/release.json"
install -D -m 0644 "$keyring" "$rootfs/etc/rauc/keyring.pem"
sed -e "s/@COMPATIBLE@/$compatible/" "$here/rootfs/rauc-system.conf" >"$rootfs/etc/rauc/system.conf"
cp -a "$here/rootfs/overlay/." "$rootfs/"
for unit in "$repo"/systemd/*.service "$repo"/systemd/*.path; do
  install -m 0644 "$unit" "$rootfs/usr/lib/systemd/system/"
done
# The controller's account (sysusers.d from the overlay), made now: /etc is read-only on the box.
systemd-sysusers --root="$rootfs" >/dev/null || die "systemd-sysusers could not make the switchboard account"
grep -q '^switchboard:' "$rootfs/etc/passwd" || die "the switchboard account is missing from /etc/passwd"
install -D -m 0644 "$repo/systemd/switchboard.service.d/sim-demo.conf" \
  "$rootfs/etc/systemd/system/switchboard.service.d/sim-demo.conf"
systemctl --root="$rootfs" --quiet enable \
  switchboard-sim.service switchboard.service switchboard-mark-good.service \
  switchboard-factory-reset.service switchboard-reboot.path switchboard-bundle-handover.path \
  systemd-networkd.service systemd-resolved.service \
  systemd-timesyncd.service 2>/dev/null
# The units as the box will load them (drop-ins included): a unit systemd would warn about fails the build.
verify=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --root="$rootfs" --man=no switchboard.service \
  switchboard-sim.service switchboard-mark-good.service switchboard-factory-reset.service \
  switchboard-reboot.path switchboard-reboot.service switchboard-bundle-handover.path \
  switchboard-bundle-handover.service 2>&1) &&
  [[ -z $verify ]] || die "systemd-analyze verify: $verify"
# systemd-firstboot would ask for a locale and a root password on the console at every boot (the
# machine id is made anew at each boot of a read-only root); the image needs neither.
systemctl --root="$rootfs" --quiet mask systemd-firstboot.service
systemctl --root="$rootfs" --quiet mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
  e2scrub_reap.service 2>/dev/null || true

# Read-only root: a machine id made at each boot, resolv.conf from systemd-resolved, mount points.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
ln -sfn /run/systemd/resolve/stub-resolv.conf "$rootfs/etc/resolv.conf"
echo switchboard >"$rootfs/etc/hostname"
mkdir -p "$rootfs/data" "$rootfs/boot/efi"
# No password anywhere: root is locked (no login on the console until a vendor adds a way in).
sed -i -E 's/^root:[^:]*:/root:!*:/' "$rootfs/etc/shadow"
grep -q '^root:!\*:' "$rootfs/etc/shadow" || die "could not lock root in /etc/shadow"
# The kernel and initramfs GRUB loads from this slot, under names that do not change with them.
kernel=$(cd "$rootfs/boot" && ls vmlinuz-* | sort -V | tail -1)
initrd=initrd.img-${kernel#vmlinuz-}
[[ -f $rootfs/boot/$initrd ]] || die "the base has no /boot/$initrd"
ln -sfn "$kernel" "$rootfs/boot/vmlinuz"
ln -sfn "$initrd" "$rootfs/boot/initrd.img"

# --- 3. the slot image: ext4 with the files' real owners, no mounts -----------------------------
rootfs_mib=$(du -s --block-size=1M "$rootfs" | cut -f1)
# 20% and 64 MiB of room for ext4's own blocks, then rounded up to 16 MiB.
fs_mib=$(((rootfs_mib * 120 / 100 + 64 + 15) / 16 * 16))
((fs_mib <= slot_mib)) || die "the root file system needs $fs_mib MiB, more than --slot-mib $slot_mib"
rootfs_img=$out/switchboard-$version-rootfs.ext4
rm -f "$rootfs_img"
mkfs.ext4 -q -L switchboard-root -U random -E root_owner=0:0 -d "$rootfs" "$rootfs_img" "${fs_mib}M" ||
  die "mkfs.ext4 -d failed"
say "slot image: $rootfs_img ($fs_mib MiB; files $rootfs_mib MiB)"

# --- 4. the signed RAUC bundle ------------------------------------------------------------------
bundle=$out/switchboard-$version.raucb
((skip_bundle)) || bash "$here/bundle.sh" --rootfs "$rootfs_img" --version "$version" --build "$build_id" \
  --compatible "$compatible" --out "$bundle" --work "$work/bundle"

# --- 5. the boot partition: GRUB (standalone EFI, its grub.cfg inside) and grubenv ---------------
esp_mib=32
grub_cfg=$work/grub.cfg
sed -e "s/@SLOT_A_PARTUUID@/$partuuid_a/" \
  -e "s/@SLOT_B_PARTUUID@/$partuuid_b/" "$here/grub.cfg" >"$grub_cfg"
grub-mkstandalone -O x86_64-efi -o "$work/BOOTX64.EFI" --fonts= --locales= --themes= \
  --install-modules="part_gpt fat ext2 normal linux loadenv regexp test echo reboot halt sleep configfile all_video" \
  --modules="part_gpt fat ext2" "boot/grub/grub.cfg=$grub_cfg"
grub-editenv "$work/grubenv" create
grub-editenv "$work/grubenv" set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
esp_img=$work/esp.img
mkfs.vfat -C -n SWBOOT -i 53574254 "$esp_img" $((esp_mib * 1024)) >/dev/null
mmd -i "$esp_img" ::/EFI ::/EFI/BOOT
mcopy -i "$esp_img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$esp_img" "$work/grubenv" ::/grubenv

# --- 6. the data partition (empty ext4; the controller makes what it needs) ---------------------
data_img=$work/data.img
mkfs.ext4 -q -L switchboard-data "$data_img" "${data_mib}M"

# --- 7. the disk: GPT, boot, slot A (written), slot B (empty until the first update), data ------
disk=$out/switchboard-$version.img
rm -f "$disk"
total_mib=$((1 + esp_mib + 2 * slot_mib + data_mib + 1))
truncate -s "${total_mib}M" "$disk"
esp_start=$((1 * 2048))
a_start=$((esp_start + esp_mib * 2048))
b_start=$((a_start + slot_mib * 2048))
data_start=$((b_start + slot_mib * 2048))
sfdisk --quiet "$disk" <<EOF
label: gpt
unit: sectors
first-lba: 2048
start=$esp_start, size=$((esp_mib * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="boot"
start=$a_start, size=$((slot_mib * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=$partuuid_a, name="rootfs-a"
start=$b_start, size=$((slot_mib * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=$partuuid_b, name="rootfs-b"
start=$data_start, size=$((data_mib * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data"
EOF
dd if="$esp_img" of="$disk" bs=1M seek=$((esp_start / 2048)) conv=notrunc,sparse status=none
dd if="$rootfs_img" of="$disk" bs=1M seek=$((a_start / 2048)) conv=notrunc,sparse status=none
dd if="$data_img" of="$disk" bs=1M seek=$((data_start / 2048)) conv=notrunc,sparse status=none

# --- 8. what was built ----------------------------------------------------------------------------
finished=$(date +%s)
size() { stat -c %s "$1"; }
used() { du --block-size=1 "$1" | cut -f1; }
cat >"$out/build-info.json" <<EOF
{
  "model": "$model",
  "version": "$version",
  "compatible": "$compatible",
  "build": "$build_id",
  "keys": "$keys",
  "node": "$("$node" --version)",
  "kernel": "${kernel#vmlinuz-}",
  "disk": {"file": "$(basename "$disk")", "bytes": $(size "$disk"), "allocatedBytes": $(used "$disk")},
  "rootfs": {"file": "$(basename "$rootfs_img")", "bytes": $(size "$rootfs_img"), "filesMiB": $rootfs_mib},
  "bundle": $( ((skip_bundle)) && echo null || echo "{\"file\": \"$(basename "$bundle")\", \"bytes\": $(size "$bundle")}"),
  "layout": {"bootMiB": $esp_mib, "slotMiB": $slot_mib, "dataMiB": $data_mib},
  "baseCached": $base_cached,
  "seconds": {"base": $((t_base - started)), "total": $((finished - started))},
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "host": "$(nproc) cores, $(uname -r)"
}
EOF
say "disk image: $disk ($(($(size "$disk") / 1048576)) MiB, $(($(used "$disk") / 1048576)) MiB allocated)"
((skip_bundle)) || say "bundle: $bundle ($(($(size "$bundle") / 1048576)) MiB, $keys keys)"
say "built in $((finished - started)) s (details in $out/build-info.json)"
