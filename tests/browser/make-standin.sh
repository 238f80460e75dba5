#!/usr/bin/env bash
# Make a stand-in for `openvod transcode` output with ffmpeg alone, to check the
# harness itself: DIR/master.m3u8 (HLS, fMP4) and DIR/manifest.mpd (DASH,
# SegmentTemplate + SegmentTimeline) over the same fMP4 segments, two video
# renditions (720p, 360p) and one audio rendition.
#
#   ./make-standin.sh DIR            # DIR must not exist yet
#   OPENVOD_TEST_OUTPUT_DIR=DIR ./run.sh
set -euo pipefail
out=${1:?usage: make-standin.sh DIR}
if [ -e "$out" ]; then echo "make-standin.sh: $out already exists" >&2; exit 2; fi
mkdir -p "$out"
cd "$out"
ffmpeg -hide_banner -loglevel error -nostdin \
  -f lavfi -i testsrc2=size=1280x720:rate=30:duration=12 \
  -f lavfi -i sine=frequency=440:sample_rate=48000:duration=12 \
  -map 0:v -map 0:v -map 1:a \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
  -g 60 -keyint_min 60 -sc_threshold 0 \
  -filter:v:0 scale=1280:720 -b:v:0 2000k -maxrate:v:0 2200k -bufsize:v:0 4000k \
  -filter:v:1 scale=640:360 -b:v:1 600k -maxrate:v:1 660k -bufsize:v:1 1200k \
  -c:a aac -b:a 128k -ac 2 \
  -f dash -seg_duration 2 -use_template 1 -use_timeline 1 \
  -adaptation_sets 'id=0,streams=v id=1,streams=a' \
  -init_seg_name 'stream$RepresentationID$-init.mp4' \
  -media_seg_name 'stream$RepresentationID$-$Number$.m4s' \
  -hls_playlist 1 -hls_master_name master.m3u8 \
  manifest.mpd
ls "$out"
