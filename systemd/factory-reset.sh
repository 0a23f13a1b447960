#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Clears a data partition for a factory reset; keeps RAUC's slot status and ext4's lost+found.
set -eu
data=${1:?usage: factory-reset.sh DATA_DIR}
# One marker at the top, moved there first (a rename is atomic): a reset that a power cut
# interrupts finds it again at the next boot and starts over.
if [ -e "$data/switchboard/.factory-reset" ]; then
  mv -f "$data/switchboard/.factory-reset" "$data/.factory-reset"
fi
[ -e "$data/.factory-reset" ] || exit 0
echo "factory reset: clearing $data (keeping $data/rauc)"
find "$data" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name rauc ! -name .factory-reset \
  -exec rm -rf -- {} +
sync
rm -f "$data/.factory-reset"
echo "factory reset: done"
