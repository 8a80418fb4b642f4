# Sourced by the scripts: messages, Debian packages, the pinned toolchains.

say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# The nightly that builds the web app (and the fuzzers).
NIGHTLY=$(cat web/nightly-toolchain)
# trunk builds the web app. 0.21.14 is the newest that builds on this rustc.
TRUNK_VERSION=0.21.14
# axe-core, the accessibility checker the browser tests run in Chromium (from
# the npm registry, checked against this hash).
AXE_VERSION=4.14.1
AXE_SHA256=e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745
# wasm-split-cli (crate wasm_split_cli_support) splits the web app's wasm
# into the first load and the screens loaded on demand (Leptos's split
# points: web/src/app/lazy.rs). 0.2.4 reads what wasm-bindgen 0.2.130 keeps.
# It says no version of its own, so it is installed under one (the web
# build runs with a CARGO_HOME of its own: scripts/test).
WSPLIT_VERSION=0.2.4
WSPLIT="${MESHCHAT_TOOLS:-$HOME/.local/share/meshchat-tools}/wasm-split-cli-$WSPLIT_VERSION/bin/wasm-split-cli"
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)

# Installs the Debian packages that are missing. The package lists are
# refreshed first: a fresh machine has none, and old ones name versions
# the mirror no longer has.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The version a tool on PATH reports (its second word), or nothing.
tool_version() {
  command -v "$1" >/dev/null && "$1" --version 2>/dev/null | awk '{print $2; exit}'
}
