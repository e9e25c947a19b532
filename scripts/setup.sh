#!/usr/bin/env bash
# Installs what rapide needs on Debian 12 (only what is missing), installs the pinned npm
# packages (only when a lock file changed) and builds into build/. Idempotent.
#   scripts/setup.sh [--build-dir DIR] [extra cmake -D options...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

build_dir=build
cmake_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    *) cmake_args+=("$1"); shift ;;
  esac
done

log() { printf '[setup] %s\n' "$*" >&2; }

# ---- Debian packages ----------------------------------------------------------------------
packages=(build-essential cmake ninja-build pkg-config git ca-certificates
          nlohmann-json3-dev libboost-dev libspdlog-dev libgtest-dev libgmock-dev libcli11-dev
          libpcre2-dev libicu-dev neovim)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js may come from Debian (nodejs + npm) or elsewhere (npm bundled): check the commands.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages: all present"
fi

# ---- npm packages (pinned by committed lock files) ----------------------------------------
# npm_ci DIR [npm ci args]: runs `npm ci` in DIR unless node_modules matches the lock already.
npm_ci() {
  local dir=$1; shift
  local stamp="$dir/node_modules/.rapide-lock.sha256"
  local want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "npm: $dir up to date"
    return
  fi
  log "npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund "$@" >/dev/null)
  echo "$want" > "$stamp"
}
npm_ci grammars --ignore-scripts
for extra in $(cat scripts/npm-dirs.txt 2>/dev/null); do
  [ -f "$extra/package-lock.json" ] && npm_ci "$extra"
done

# ---- configure and build ------------------------------------------------------------------
if [ ! -f "$build_dir/build.ninja" ] || [ ${#cmake_args[@]} -gt 0 ]; then
  log "configuring $build_dir"
  cmake -S "$root" -B "$build_dir" -G Ninja "${cmake_args[@]}" >/dev/null
fi
log "building $build_dir"
cmake --build "$build_dir" -j "$(nproc)"
