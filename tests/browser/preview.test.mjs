// Playable while it encodes: `openvod serve` publishes a preview of a fresh upload
// segment by segment while the ladder encodes (the default ladder at x264 `veryfast`). hls.js
// in Chromium starts the asset's one playback URL while the asset is `playable`, and
// plays on to the end after the asset turns `ready`, with no error and no stall at the
// switch; a player that starts after `ready` gets the ladder at the same URL.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';
import { ARTIFACTS, REPO, launchChromium, run, slug, startServe } from './common.mjs';

const env = process.env;
const SOURCE_SECONDS = 60;

describe('a fresh upload plays while it encodes, in Chromium', () => {
  let tmp;
  let serve;
  let pageServer;
  let browser;
  let setupError = null;

  before(async () => {
    try {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openvod-preview-'));
      const src = path.join(tmp, 'source.mp4');
      // Moving pictures and a tone, 960x540: the default ladder's 540p and 360p rungs at
      // x264 `veryfast` take long enough here for a player to start on the preview first
      // (about 30 s on 2 cores beside the preview and the player), and well under the
      // title's length, so that the asset turns ready while the player is on the preview.
      await run('ffmpeg', [
        '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
        '-f', 'lavfi', '-i', `testsrc2=size=960x540:rate=30:duration=${SOURCE_SECONDS}`,
        '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${SOURCE_SECONDS}`,
        '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', src,
      ], { timeoutMs: 60_000 });
      const template = fs.readFileSync(path.join(REPO, 'crates/transcode/templates/default.toml'), 'utf8')
        .replace('preset = "medium"', 'preset = "veryfast"');
      assert.match(template, /preset = "veryfast"/);
      fs.writeFileSync(path.join(tmp, 'veryfast.toml'), template);
      const config = path.join(tmp, 'openvod.toml');
      fs.writeFileSync(config, `data_dir = "${path.join(tmp, 'data')}"\n[templates]\ndefault = "${path.join(tmp, 'veryfast.toml')}"\n`);
      serve = await startServe(config);
      pageServer = await startServer({ mediaDir: tmp });
      browser = await launchChromium(chromium);
    } catch (e) {
      setupError = e;
      console.error(`setup failed: ${e.message}`);
    }
  }, { timeout: 120_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (pageServer) await pageServer.close().catch(() => {});
    if (serve) serve.child.kill('SIGKILL');
    if (tmp && !env.OPENVOD_TEST_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const asset = async (id) => (await fetch(`${serve.base}/v1/assets/${id}`)).json();

  it('hls.js starts while the asset is playable and plays to the end after it turns ready, without a stall', { timeout: 240_000 }, async (t) => {
    if (setupError) throw setupError;
    const uploaded = Date.now();
    const created = await fetch(`${serve.base}/v1/assets?name=source.mp4`, {
      method: 'POST',
      body: fs.readFileSync(path.join(tmp, 'source.mp4')),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const { id } = await created.json();
    const upload = (Date.now() - uploaded) / 1000;

    // Playable: the preview's first segments are published, the ladder still encodes.
    let a;
    for (;;) {
      a = await asset(id);
      if (a.status === 'playable') break;
      assert.ok(['queued', 'processing'].includes(a.status), `went ${a.status} before playable: ${JSON.stringify(a)}`);
      assert.ok(Date.now() - uploaded < 60_000, `not playable within 60 s: ${JSON.stringify(a)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const playableAfter = (Date.now() - uploaded) / 1000;
    t.diagnostic(`upload ${upload.toFixed(2)} s; playable ${playableAfter.toFixed(2)} s after the upload started, preview ${a.preview_seconds} s, stage ${a.stage} ${a.progress}%`);
    assert.ok(a.preview_seconds > 0, `a playable asset has preview seconds: ${a.preview_seconds}`);
    assert.equal(a.playback.hls, `/play/${id}/master.m3u8`);
    assert.equal(a.playback.dash, null, 'no DASH before ready');
    // Only the preview is served: the ladder's objects and the MPD are not there yet.
    const master = await (await fetch(`${serve.base}/play/${id}/master.m3u8`)).text();
    assert.match(master, /^preview\/index\.m3u8$/m, master);
    assert.match(master, /CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/, master);
    for (const p of ['manifest.mpd', '540p/index.m3u8', 'cenc/master.m3u8']) {
      assert.equal((await fetch(`${serve.base}/play/${id}/${p}`)).status, 404, `${p} while playable`);
    }
    const growing = await (await fetch(`${serve.base}/play/${id}/preview/index.m3u8`)).text();
    assert.match(growing, /#EXT-X-PLAYLIST-TYPE:EVENT/);
    assert.match(growing, /#EXT-X-START:TIME-OFFSET=0/);

    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    const src = `${serve.base}/play/${id}/master.m3u8`;
    let state = null;
    try {
      await page.goto(`${pageServer.url}/?player=hls&src=${encodeURIComponent(src)}`, { timeout: 15_000 });
      // A stall is a `waiting` once playback has started (the first start is not one).
      await page.evaluate(() => {
        window.__stalls = [];
        let started = false;
        window.__video.addEventListener('playing', () => { started = true; });
        window.__video.addEventListener('waiting', () => { if (started) window.__stalls.push(window.__video.currentTime); });
      });
      await page.waitForFunction(() => (window.__errors?.length ?? 0) > 0 || (window.__video?.currentTime ?? 0) > 1, null, { timeout: 30_000, polling: 100 });
      const started = await asset(id);
      t.diagnostic(`the player passed 1 s at ${((Date.now() - uploaded) / 1000).toFixed(2)} s, asset ${started.status} (${started.stage} ${started.progress}%)`);
      assert.equal(started.status, 'playable', 'the player started before the ladder was ready');

      // The ladder lands while the player plays the preview.
      let readyAt = null;
      for (;;) {
        const now = await asset(id);
        if (now.status === 'ready') { readyAt = await page.evaluate(() => window.__video.currentTime); break; }
        assert.equal(now.status, 'playable', JSON.stringify(now.error ?? now));
        assert.equal(await page.evaluate(() => window.__errors.length), 0, 'player error while playable');
        if (await page.evaluate(() => window.__video.ended)) assert.fail('the preview played to its end before the asset was ready');
        await new Promise((r) => setTimeout(r, 250));
      }
      t.diagnostic(`ready at ${((Date.now() - uploaded) / 1000).toFixed(2)} s, the player at ${readyAt.toFixed(2)} s`);
      await page.waitForFunction(() => (window.__errors?.length ?? 0) > 0 || window.__video.ended, null, { timeout: (SOURCE_SECONDS + 30) * 1000, polling: 250 });
      state = await page.evaluate(() => ({ ...window.__state(), stalls: window.__stalls }));
      t.diagnostic(`ended at ${state.currentTime.toFixed(2)} s of ${state.duration}, ${state.videoWidth}x${state.videoHeight}, stalls ${JSON.stringify(state.stalls)}, dropped ${state.droppedVideoFrames} of ${state.totalVideoFrames}`);
      assert.deepEqual(state.errors, []);
      assert.ok(state.ended, 'played to the end');
      assert.ok(Math.abs(state.currentTime - SOURCE_SECONDS) < 0.5, `ended at ${state.currentTime}, the title is ${SOURCE_SECONDS} s`);
      assert.deepEqual(state.stalls, [], 'no stall');
      assert.ok(state.audioDecodedBytes > 0, 'audio played');
      assert.ok(state.videoHeight > 0 && state.videoHeight <= 360, `the preview is at most 360 lines: ${state.videoHeight}`);
    } catch (e) {
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      const out = path.join(ARTIFACTS, slug('preview-hls'));
      await page.screenshot({ path: `${out}.png` }).catch(() => {});
      fs.writeFileSync(`${out}.json`, JSON.stringify({ state, console: consoleLines }, null, 2));
      throw e;
    } finally {
      await context.close().catch(() => {});
    }

    // Ready: the same URL is the ladder now; the preview stays for players on it, closed.
    const ready = await asset(id);
    assert.equal(ready.playback.dash, `/play/${id}/manifest.mpd`);
    const ladder = await (await fetch(`${serve.base}/play/${id}/master.m3u8`)).text();
    assert.doesNotMatch(ladder, /preview\//, ladder);
    assert.match(ladder, /RESOLUTION=960x540/, ladder);
    const closed = await (await fetch(`${serve.base}/play/${id}/preview/index.m3u8`)).text();
    assert.match(closed, /#EXT-X-ENDLIST\s*$/);
    const listed = [...closed.matchAll(/^#EXTINF:([0-9.]+),/gm)].reduce((s, m) => s + Number(m[1]), 0);
    assert.ok(Math.abs(listed - SOURCE_SECONDS) < 0.2, `the preview lists ${listed} s`);
    const preview = ready.tasks.find((task) => task.stage === 'preview');
    assert.equal(preview?.status, 'succeeded', JSON.stringify(ready.tasks));
  });
});
