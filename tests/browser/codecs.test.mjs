// Several codecs in one presentation: `openvod serve` encodes an H.264, an AV1 and an HEVC
// ladder of one source, chosen for the title (a per-title ladder: the analysis picks the
// rungs from the template's two sizes), packaged ahead of time, and a second asset
// packaged on request by the origin, clear and cenc with ClearKey licences from openvod. In Chromium, hls.js
// (from the multivariant playlist) and Shaka (from the MPD) play the AV1 set when told to
// prefer AV1 and the H.264 set when told to prefer H.264; a preferred codec the browser
// cannot decode (HEVC, which headless Chromium on Linux has no decoder for) falls back to
// one it can. The template encodes in chunks of 4 s (two chunks of the 10 s source, joined
// at 4 s in every rung of every codec), so all of this also plays chunked encodes.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';
import { ARTIFACTS, CHROMIUM_ARGS, findOpenvod, run, slug, withTimeout } from './common.mjs';

const env = process.env;
const PLAY_SECONDS = 4;
const PLAY_TIMEOUT_MS = Number(env.OPENVOD_PLAY_TIMEOUT_MS ?? 40_000);
const ADMIN = 'admin-token-for-the-codecs-browser-test';

describe('several codecs in one presentation, in Chromium', () => {
  let tmp;
  let openvod;
  let base;
  let staticId;
  let jitId;
  let pageServer;
  let browser;
  let setupError = null;

  async function api(method, p, body) {
    const r = await fetch(base + p, { method, body, headers: { authorization: `Bearer ${ADMIN}` } });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
    return JSON.parse(text);
  }

  async function setup() {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openvod-codecs-'));
    const src = path.join(tmp, 'source.mp4');
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25:duration=10',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=10',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', src,
    ], { timeoutMs: 60_000 });
    // Two rungs in each of three codecs; SVT-AV1 at its fast preset 12 (`superfast`).
    const template = `name = "codecs"
[video]
codecs = ["h264", "av1", "hevc"]
preset = "superfast"
chunk_seconds = 4.0
[[video.rungs]]
name = "360p"
height = 360
max_bitrate = 900_000
[[video.rungs]]
name = "180p"
height = 180
max_bitrate = 300_000
[audio]
[ladder]
mode = "per-title"
min_bitrate = 50_000
[protection]
outputs = ["clear", "cenc"]
drm_systems = ["clearkey"]
`;
    fs.writeFileSync(path.join(tmp, 'codecs.toml'), template);
    fs.writeFileSync(
      path.join(tmp, 'codecs-jit.toml'),
      template.replace('name = "codecs"', 'name = "codecs-jit"').replace('[protection]', '[packaging]\nmode = "jit"\n[protection]'),
    );
    const config = path.join(tmp, 'openvod.toml');
    fs.writeFileSync(config, [
      `data_dir = "${path.join(tmp, 'data')}"`,
      '[drm]',
      `master_key = "${'6b'.repeat(32)}"`,
      '[access]',
      `admin_tokens = ["${ADMIN}"]`,
      '[templates]',
      `codecs = "${path.join(tmp, 'codecs.toml')}"`,
      `codecs-jit = "${path.join(tmp, 'codecs-jit.toml')}"`,
      '',
    ].join('\n'));
    openvod = spawn(findOpenvod(), ['serve', '--config', config, '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, OPENVOD_LOG: 'info' },
    });
    let log = '';
    openvod.stderr.on('data', (d) => (log += d));
    base = await withTimeout(new Promise((resolve, reject) => {
      let out = '';
      openvod.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/listening on (http:\/\/\S+)/);
        if (m) resolve(m[1]);
      });
      openvod.on('exit', (code) => reject(new Error(`openvod serve exited with ${code}:\n${log}`)));
    }), 30_000, 'openvod serve');
    const a = await api('POST', '/v1/assets?template=codecs&name=source.mp4', fs.readFileSync(src));
    const b = await api('POST', '/v1/assets?template=codecs-jit&name=jit.mp4', fs.readFileSync(src));
    const deadline = Date.now() + 400_000;
    for (const id of [a.id, b.id]) {
      for (;;) {
        const asset = await api('GET', `/v1/assets/${id}`);
        if (asset.status === 'ready') {
          // Two chunks and the audio: every seam below is a join of two encodes.
          const parts = asset.tasks.filter((t) => t.stage === 'encode').length;
          if (parts !== 3) throw new Error(`encoded in ${parts} parts, not 3: ${JSON.stringify(asset.tasks)}`);
          break;
        }
        if (asset.status === 'failed') throw new Error(`asset failed: ${JSON.stringify(asset.error)}`);
        if (Date.now() > deadline) throw new Error(`asset not ready in time: ${JSON.stringify(asset)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    staticId = a.id;
    jitId = b.id;
    pageServer = await startServer({ mediaDir: tmp });
    browser = await chromium.launch({ executablePath: env.CHROMIUM_BIN ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  }

  before(async () => {
    try {
      await setup();
    } catch (e) {
      setupError = e;
      console.error(`setup failed: ${e.message}`);
    }
  }, { timeout: 480_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (pageServer) await pageServer.close().catch(() => {});
    if (openvod) openvod.kill('SIGKILL');
    if (tmp && !env.OPENVOD_TEST_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // Plays `manifest` of asset `id`; resolves with the codec that played.
  async function play(t, { player, manifest, id, prefer, licence = false }) {
    const src = `${base}/play/${id}/${manifest}`;
    let url = `${pageServer.url}/?player=${player}&src=${encodeURIComponent(src)}&prefer=${prefer}`;
    if (licence) url += `&licence=${encodeURIComponent(`${base}/v1/drm/clearkey`)}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    try {
      await page.goto(url, { timeout: 15_000 });
      await page.waitForFunction(
        (secs) => (window.__errors?.length ?? 0) > 0 || ((window.__video?.currentTime ?? 0) > secs && window.__video.webkitVideoDecodedByteCount > 0),
        PLAY_SECONDS,
        { timeout: PLAY_TIMEOUT_MS, polling: 250 },
      ).catch(() => {});
      const state = await page.evaluate(() => window.__state());
      t.diagnostic(`${player} ${manifest} prefer=${prefer}: t=${state.currentTime.toFixed(2)} codec=${state.info.codec} levels=${JSON.stringify(state.info.levels)}`);
      const played = state.errors.length === 0 && state.currentTime > PLAY_SECONDS && state.videoWidth > 0;
      if (!played) {
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        const out = path.join(ARTIFACTS, slug(`codecs-${player}-${manifest}-${prefer}`));
        await page.screenshot({ path: `${out}.png` }).catch(() => {});
        fs.writeFileSync(`${out}.json`, JSON.stringify({ url, state, console: consoleLines }, null, 2));
        assert.fail(`${player} did not play ${manifest}: ${JSON.stringify(state).slice(0, 1500)}\nconsole: ${consoleLines.slice(-20).join('\n')}`);
      }
      assert.ok(state.audioDecodedBytes > 0, 'no audio decoded');
      return state.info.codec ?? '';
    } finally {
      await context.close().catch(() => {});
    }
  }

  it('signals every codec: a variant set per codec, I-frame variants per codec, one AdaptationSet per codec', async () => {
    if (setupError) throw setupError;
    for (const id of [staticId, jitId]) {
      // The per-title decision is on the asset, and each codec has its rungs.
      const asset = await api('GET', `/v1/assets/${id}`);
      const rungs = asset.ladder?.rungs?.length ?? 0;
      // Two sizes, and a size may carry more than one rung (at different CRFs), up to
      // the default ceiling of six rungs.
      assert.ok(rungs >= 1 && rungs <= 6, `per-title rungs: ${JSON.stringify(asset.ladder)}`);
      for (const r of asset.ladder.rungs) assert.ok([360, 180].includes(r.height), `${r.name} is ${r.height}p`);
      const perCodec = (codec) => Array(rungs).fill(codec);
      const expected = [...perCodec('av01'), ...perCodec('avc1'), ...perCodec('hvc1')];
      const master = await (await fetch(`${base}/play/${id}/master.m3u8`)).text();
      const variants = [...master.matchAll(/^#EXT-X-STREAM-INF:(.*)$/gm)].map((m) => m[1]);
      const codecsOf = (lines) => lines.map((l) => l.match(/CODECS="([^"]+)"/)[1].split(',')[0].slice(0, 4));
      assert.deepEqual(codecsOf(variants).sort(), expected, master);
      for (const v of variants) assert.match(v, /AUDIO="[^"]+"/, 'every variant names the audio group');
      assert.equal(new Set(variants.map((v) => v.match(/AUDIO="([^"]+)"/)[1])).size, 1, 'one audio group shared');
      const iframes = [...master.matchAll(/^#EXT-X-I-FRAME-STREAM-INF:(.*)$/gm)].map((m) => m[1]);
      assert.deepEqual(codecsOf(iframes).sort(), expected, master);
      const mpd = await (await fetch(`${base}/play/${id}/manifest.mpd`)).text();
      const sets = [...mpd.matchAll(/<AdaptationSet[^>]*contentType="video"[^>]*>([\s\S]*?)<\/AdaptationSet>/g)];
      assert.equal(sets.length, 3, mpd);
      for (const [, body] of sets) {
        const families = new Set([...body.matchAll(/codecs="([^"]+)"/g)].map((m) => m[1].slice(0, 4)));
        assert.equal(families.size, 1, `one codec per AdaptationSet: ${[...families]}`);
      }
      // The AV1 codec string of a 360p Main 8-bit stream: level 2.1 or lower, Main tier.
      assert.match(master, /CODECS="av01\.0\.0[0-9]M\.08,mp4a\.40\.2"/);
    }
  });

  for (const [label, idOf] of [['packaged ahead of time', () => staticId], ['packaged on request', () => jitId]]) {
    for (const c of [
      { player: 'hls', manifest: 'master.m3u8', prefer: 'av01' },
      { player: 'hls', manifest: 'master.m3u8', prefer: 'avc1' },
      { player: 'shaka', manifest: 'manifest.mpd', prefer: 'av01' },
      { player: 'shaka', manifest: 'manifest.mpd', prefer: 'avc1' },
      { player: 'shaka', manifest: 'cenc/manifest.mpd', prefer: 'av01', licence: true },
      { player: 'hls', manifest: 'cenc/master.m3u8', prefer: 'av01', licence: true },
    ]) {
      const name = `${label}: ${c.player === 'hls' ? 'hls.js' : 'Shaka'} plays the ${c.prefer} set of ${c.manifest} when told to prefer it`;
      it(name, { timeout: PLAY_TIMEOUT_MS + 30_000 }, async (t) => {
        if (setupError) throw setupError;
        const codec = await play(t, { ...c, id: idOf() });
        assert.ok(codec.startsWith(c.prefer), `played ${codec}, not ${c.prefer}`);
      });
    }
  }

  for (const c of [
    { player: 'hls', manifest: 'master.m3u8' },
    { player: 'shaka', manifest: 'manifest.mpd' },
  ]) {
    it(`${c.player === 'hls' ? 'hls.js' : 'Shaka'} told to prefer HEVC, which it cannot decode here, plays another codec`, { timeout: PLAY_TIMEOUT_MS + 30_000 }, async (t) => {
      if (setupError) throw setupError;
      const codec = await play(t, { ...c, id: staticId, prefer: 'hvc1' });
      assert.ok(codec.startsWith('av01') || codec.startsWith('avc1'), `played ${codec}`);
    });
  }
});
