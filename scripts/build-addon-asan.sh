#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the addon with AddressSanitizer/UBSan into build/asan/switchboard.node (for SWITCHBOARD_ADDON); idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/asan/switchboard.node
if [[ -f $out && -z $(find native/src binding.gyp -newer "$out" -print -quit) ]]; then
  exit 0
fi
nodedir=${npm_config_nodedir:-/usr}
[[ -f $nodedir/include/node/node_api.h ]] || nodedir=/usr
mkdir -p build/asan
echo "setup: building the sanitizer addon ($out)"
# The same sources and flags as binding.gyp, with the sanitizers; C++ exceptions as the
# node_addon_api_except target gives them.
g++ -std=c++17 -Wall -Wextra -Werror -fPIC -shared \
  -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g \
  -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DBUILDING_NODE_EXTENSION \
  -I"$nodedir/include/node" -I"$(node -p "require('node-addon-api').include_dir")" \
  native/src/*.cc -o "$out.tmp" \
  -lpri -lss7 -lopenr2 -lspandsp -ltonezone -lpthread
mv "$out.tmp" "$out"
