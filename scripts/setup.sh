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

# cargo-fuzz (libFuzzer) for scripts/fuzz, installed once under ~/.cache/openvod.
# cargo fuzz passes -Z flags (sanitizers, coverage) that a stable toolchain accepts only
# with RUSTC_BOOTSTRAP=1, which scripts/fuzz sets for its own cargo calls.
need_cargo_fuzz() {
  local root="$HOME/.cache/openvod/cargo-fuzz"
  export PATH="$root/bin:$PATH"
  if ! command -v cargo-fuzz >/dev/null; then
    echo "installing cargo-fuzz into $root..." >&2
    cargo install cargo-fuzz --locked --root "$root"
  fi
}

# Build output lives outside the clone so that repeated runs (and CI) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/openvod/target}"

# Python with botocore and rsa, for the CloudFront interop test of crates/access
# (crates/access/tests/botocore.rs uses this venv unless OPENVOD_PYTHON names another),
# and schemathesis, which tests/api/run.sh runs against the API's OpenAPI document.
SCHEMATHESIS_VERSION=4.32.5
need_python() {
  local venv="$HOME/.cache/openvod/venv"
  if ! "$venv/bin/python" -c 'import botocore, rsa' 2>/dev/null; then
    echo "installing botocore and rsa into $venv..." >&2
    if ! command -v python3 >/dev/null; then
      apt_install python3 python3-venv
    fi
    # --clear: a venv left over from an older python3 is rebuilt rather than reused.
    if ! python3 -m venv --clear "$venv"; then
      apt_install python3-venv
      python3 -m venv --clear "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check botocore rsa
  fi
  if [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv..." >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
}

# Shaka Packager (the npm package shaka-packager@3.4, a prebuilt binary), for the
# encryption interop tests of crates/openvod/tests/encrypt.rs, which look for it here
# (or take SHAKA_PACKAGER=/path/to/packager).
need_shaka_packager() {
  local prefix="$HOME/.cache/openvod/shaka-packager" arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *)
      echo "no prebuilt Shaka Packager for $(uname -m)" >&2
      return 1
      ;;
  esac
  if ! "$prefix/node_modules/shaka-packager/bin/packager-linux-$arch" --version >/dev/null 2>&1; then
    need_node
    echo "installing shaka-packager@3.4 into $prefix..." >&2
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --no-update-notifier --loglevel=error shaka-packager@3.4 >/dev/null
  fi
}
