# Installs what openvod's commands and tests need, when missing. Sourced by the scripts.
# Debian/Ubuntu: ffmpeg (ffprobe, libx264), and for the browser tests Chromium and Node.js.
set -euo pipefail

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need_media_tools() {
  if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
    echo "installing ffmpeg..." >&2
    apt_install ffmpeg
  fi
}

need_rust() {
  if ! command -v cargo >/dev/null; then
    echo "cargo is missing: install Rust from your distribution or rustup" >&2
    exit 1
  fi
}

need_node() {
  if ! command -v npm >/dev/null; then
    echo "installing node.js and npm..." >&2
    apt_install nodejs npm
  fi
}

# The dashboard's player library (hls.js from npm), compiled into the binary.
need_web() {
  need_node
  if [ ! -f web/node_modules/hls.js/dist/hls.min.js ]; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

need_browser() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium..." >&2
    apt_install chromium
  fi
  need_node
}

# Build output lives outside the clone so that repeated runs (and CI) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/openvod/target}"
