#!/usr/bin/env bash
# Real-browser playback tests for openvod's HLS/DASH output (see README.md).
#   tests/browser/run.sh                                   # transcode with target/{debug,release}/openvod, then play
#   OPENVOD_BIN=/path/openvod tests/browser/run.sh
#   OPENVOD_TEST_OUTPUT_DIR=/path/to/output tests/browser/run.sh   # play an existing folder, no openvod
# Extra arguments go to `node --test` (e.g. --test-name-pattern=Shaka).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/hls.js ] || [ ! -d node_modules/dashjs ] || [ ! -d node_modules/shaka-player ]; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi
exec node --test --test-concurrency=1 --test-reporter=spec "$@" play.test.mjs catalogue.test.mjs dashboard.test.mjs drm.test.mjs codecs.test.mjs qoe.test.mjs steering.test.mjs tiers.test.mjs preview.test.mjs
