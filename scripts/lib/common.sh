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
