#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs what the build needs (Debian packages, npm packages) and builds the native parts; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

# --- Debian packages ----------------------------------------------------------------------------
# Signalling stacks and DSP for the addon, DAHDI tools and headers for the simulator, espeak-ng and
# sox for prompts, tshark to decode signalling captures in tests, python3 for the scripted MTP2 peer,
# Mosquitto and openssl (the NOC's broker and its TLS certificates in MQTT tests), Chromium (web UI
# tests), socat (the simulated board MCU).
packages=(
  build-essential pkg-config
  libpri-dev libss7-dev libopenr2-dev libopenr2-bin libspandsp-dev libtonezone-dev
  dahdi dahdi-source nlohmann-json3-dev
  espeak-ng sox tshark python3
  mosquitto openssl chromium socat
)
# One dpkg-query for all: it prints the packages it knows (and fails if any is unknown).
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for pkg in "${packages[@]}"; do
  grep -qxF "$pkg install ok installed" <<<"$installed" || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  say "installing Debian packages: ${missing[*]}"
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; the answer is no, and it must not ask.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | "${sudo[@]}" debconf-set-selections
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- npm packages -------------------------------------------------------------------------------
# npm ci wipes node_modules, so it runs only when the lock file changed since the last install.
stamp=node_modules/.switchboard-stamp
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -d node_modules || ! -f $stamp || $(cat "$stamp") != "$lock_sum" ]]; then
  say "installing npm packages (npm ci)"
  # better-sqlite3 has no prebuilt binary reachable here: node-gyp builds it against the
  # headers Node ships in /usr/include/node (it cannot download them).
  if [[ -z ${npm_config_nodedir:-} && -f /usr/include/node/common.gypi ]]; then
    export npm_config_nodedir=/usr
  fi
  npm ci --no-fund --no-audit --loglevel=error
  echo "$lock_sum" >"$stamp"
fi

# --- the simulator (native/sim, its own Makefile) -----------------------------------------------
if [[ -f native/sim/Makefile ]]; then
  make -s -C native/sim
else
  say "native/sim/Makefile does not exist yet: simulator not built"
fi

# --- the native addon ---------------------------------------------------------------------------
# node-gyp must not download node headers (no network here): point it at the installed ones.
# npm on this machine sets `nodedir` in ~/.npmrc; Debian's nodejs puts the headers in /usr.
gyp=(node_modules/.bin/node-gyp --loglevel=error)
addon=build/Release/switchboard.node
if [[ ! -f $addon || -n $(find native/src binding.gyp -newer "$addon" -print -quit) ]]; then
  nodedir=${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}
  [[ $nodedir == undefined || $nodedir == null ]] && nodedir=
  [[ -z $nodedir && -f /usr/include/node/common.gypi ]] && nodedir=/usr
  say "building the native addon (node-gyp rebuild${nodedir:+ --nodedir=$nodedir})"
  "${gyp[@]}" ${nodedir:+"--nodedir=$nodedir"} rebuild >/dev/null
else
  # Configured already (build/config.gypi names the headers): an incremental make.
  "${gyp[@]}" build >/dev/null
fi

# --- the web UI (web/src -> web/dist, served by the controller at /) ----------------------------
# Rebuilt when a source, the build script or the locked packages (esbuild, preact) are newer than
# the last build; build.json is written last, so it dates the whole build.
web_stamp=web/dist/build.json
if [[ ! -f $web_stamp || -n $(find web/src web/build.ts web/tsconfig.json package-lock.json -newer "$web_stamp" -print -quit) ]]; then
  say "building the web UI (web/dist)"
  node --import tsx web/build.ts
fi

# --- the addon's sanitizer build (tests load it through SWITCHBOARD_ADDON) ----------------------
bash scripts/build-addon-asan.sh
