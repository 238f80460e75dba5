// Real-browser playback tests: the HLS and DASH output of `openvod transcode`
// must play in Chromium through hls.js, dash.js and Shaka Player.
//
// Environment:
//   OPENVOD_BIN                  openvod binary (default: newest of $CARGO_TARGET_DIR/{debug,release}/openvod,
//                                CARGO_TARGET_DIR defaulting to <repo>/target)
//   OPENVOD_TRANSCODE_ARGS       extra args for `openvod transcode`, space separated (e.g. "--template t.toml")
//   OPENVOD_TEST_OUTPUT_DIR      play this existing output folder instead of running openvod
//   OPENVOD_TRANSCODE_TIMEOUT_MS default 600000
//   OPENVOD_PLAY_TIMEOUT_MS      how long each player gets to reach currentTime > 5 s (default 40000)
//   OPENVOD_TEST_KEEP=1          keep the temp folder (source + output) even when everything passed
//   CHROMIUM_BIN                 default /usr/bin/chromium

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';
import { ARTIFACTS, CHROMIUM_ARGS, findOpenvod, run, slug, withTimeout } from './common.mjs';


const env = process.env;
const PLAY_SECONDS = 5;
const PLAY_TIMEOUT_MS = Number(env.OPENVOD_PLAY_TIMEOUT_MS ?? 40_000);
const TRANSCODE_TIMEOUT_MS = Number(env.OPENVOD_TRANSCODE_TIMEOUT_MS ?? 600_000);
const SOURCE_SECONDS = 12;

const CASES = [
  { name: 'hls.js plays master.m3u8', player: 'hls', manifest: 'master.m3u8' },
  { name: 'dash.js plays manifest.mpd', player: 'dash', manifest: 'manifest.mpd' },
  { name: 'Shaka Player plays manifest.mpd', player: 'shaka', manifest: 'manifest.mpd' },
  { name: 'Shaka Player plays master.m3u8', player: 'shaka', manifest: 'master.m3u8' },
];

describe('openvod output plays in Chromium', () => {
  let tmp = null;
  let outDir = null;
  let server = null;
  let browser = null;
  let failed = false;

  let setupError = null; // reported by every test, so the summary counts them as failed

  async function setup() {
    if (env.OPENVOD_TEST_OUTPUT_DIR) {
      outDir = path.resolve(env.OPENVOD_TEST_OUTPUT_DIR);
      console.log(`playing existing output ${outDir} (OPENVOD_TEST_OUTPUT_DIR; openvod not run)`);
    } else {
      const bin = findOpenvod();
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openvod-browser-'));
      const src = path.join(tmp, 'source.mp4');
      outDir = path.join(tmp, 'out');
      await run(
        'ffmpeg',
        [
          '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
          '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30:duration=${SOURCE_SECONDS}`,
          '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${SOURCE_SECONDS}`,
          '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
          '-c:a', 'aac', '-shortest', src,
        ],
        { timeoutMs: 120_000 },
      );
      const extra = (env.OPENVOD_TRANSCODE_ARGS ?? '').split(/\s+/).filter(Boolean);
      const args = ['transcode', src, '--out', outDir, ...extra];
      console.log(`${bin} ${args.join(' ')}`);
      const t0 = Date.now();
      await run(bin, args, { timeoutMs: TRANSCODE_TIMEOUT_MS, cwd: tmp });
      console.log(`transcode took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    for (const f of ['master.m3u8', 'manifest.mpd']) {
      if (!fs.existsSync(path.join(outDir, f))) {
        const ls = fs.existsSync(outDir) ? fs.readdirSync(outDir).join(' ') : '(folder missing)';
        throw new Error(`${path.join(outDir, f)} is missing; the output folder has: ${ls}`);
      }
    }
    if (!env.OPENVOD_TEST_OUTPUT_DIR) {
      // A 1080p source gives the whole default ladder.
      const master = fs.readFileSync(path.join(outDir, 'master.m3u8'), 'utf8');
      const rungs = master.match(/^#EXT-X-STREAM-INF:.*RESOLUTION=(\d+x\d+)/gm) ?? [];
      const sizes = rungs.map((l) => l.replace(/.*RESOLUTION=/, ''));
      if (sizes.join(' ') !== '1920x1080 1280x720 960x540 640x360') {
        throw new Error(`expected the 4-rung ladder, master.m3u8 has: ${sizes.join(' ')}`);
      }
    }

    server = await startServer({ mediaDir: outDir });
    browser = await chromium.launch({
      executablePath: env.CHROMIUM_BIN ?? '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
    console.log(`serving ${outDir} at ${server.url}/media/, Chromium ${browser.version()}`);
  }

  before(
    async () => {
      try {
        await setup();
      } catch (e) {
        setupError = e;
        failed = true;
        console.error(`setup failed: ${e.message}`);
      }
    },
    { timeout: TRANSCODE_TIMEOUT_MS + 180_000 },
  );

  after(
    async () => {
      if (browser) await withTimeout(browser.close(), 15_000, 'browser.close()').catch((e) => console.error(e.message));
      if (server) await withTimeout(server.close(), 5_000, 'server.close()').catch((e) => console.error(e.message));
      if (tmp) {
        if (failed || env.OPENVOD_TEST_KEEP) console.log(`kept ${tmp} (source.mp4, out/)`);
        else fs.rmSync(tmp, { recursive: true, force: true });
      }
    },
    { timeout: 30_000 },
  );

  for (const c of CASES) {
    it(c.name, { timeout: PLAY_TIMEOUT_MS + 45_000 }, async (t) => {
      if (setupError) throw new Error(`setup failed: ${setupError.message}`);
      assert.ok(browser && server, 'setup did not finish');
      const context = await browser.newContext({ viewport: { width: 980, height: 640 } });
      const page = await context.newPage();
      const consoleLines = [];
      const failedRequests = [];
      page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
      page.on('requestfailed', (r) => failedRequests.push(`${r.url()} ${r.failure()?.errorText}`));
      page.on('response', (r) => r.status() >= 400 && failedRequests.push(`${r.status()} ${r.url()}`));
      const url = `${server.url}/?player=${c.player}&src=${encodeURIComponent('/media/' + c.manifest)}`;
      let waitError = null;
      let state = null;
      try {
        await page.goto(url, { timeout: 15_000 });
        try {
          await page.waitForFunction(
            (secs) => (window.__errors?.length ?? 0) > 0 || (window.__video?.currentTime ?? 0) > secs,
            PLAY_SECONDS,
            { timeout: PLAY_TIMEOUT_MS, polling: 250 },
          );
        } catch (e) {
          waitError = e;
        }
        state = await page.evaluate(() => window.__state());
        t.diagnostic(
          `${c.player} ${state.info.version ?? ''}: currentTime=${state.currentTime.toFixed(2)} ` +
            `${state.videoWidth}x${state.videoHeight} levels=${JSON.stringify(state.info.levels ?? [])} ` +
            `audio=${JSON.stringify(state.info.audioTracks ?? [])} audioDecodedBytes=${state.audioDecodedBytes}`,
        );
        for (const w of state.warnings) t.diagnostic(`warning: ${JSON.stringify(w)}`);

        const problems = [];
        if (state.errors.length) problems.push(`player errors:\n  ${state.errors.map((e) => JSON.stringify(e)).join('\n  ')}`);
        if (!(state.currentTime > PLAY_SECONDS)) {
          problems.push(
            `currentTime reached only ${state.currentTime.toFixed(2)} s (want > ${PLAY_SECONDS}) within ` +
              `${PLAY_TIMEOUT_MS} ms${waitError ? ` (${waitError.message.split('\n')[0]})` : ''}; ` +
              `readyState=${state.readyState} paused=${state.paused} buffered=${JSON.stringify(state.buffered)}`,
          );
        }
        if (!(state.videoWidth > 0)) problems.push(`videoWidth is ${state.videoWidth}: no video decoded`);
        if (state.audioDecodedBytes === 0) problems.push('no audio decoded (webkitAudioDecodedByteCount == 0)');
        if (problems.length) throw new assert.AssertionError({ message: `${c.name}: ${problems.join('\n')}` });
      } catch (e) {
        failed = true;
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        const base = path.join(ARTIFACTS, slug(`${c.player}-${c.manifest}`));
        await page.screenshot({ path: `${base}.png`, timeout: 10_000 }).catch(() => {});
        const report = { url, state, console: consoleLines, failedRequests, serverLog: server.requests.slice(-200) };
        fs.writeFileSync(`${base}.json`, JSON.stringify(report, null, 2));
        console.error(
          `--- ${c.name} failed (details below) ---\n` +
            `console (last 30):\n  ${consoleLines.slice(-30).join('\n  ')}\n` +
            `failed requests:\n  ${failedRequests.slice(-30).join('\n  ')}\n` +
            `screenshot + report: ${base}.png, ${base}.json`,
        );
        throw e;
      } finally {
        await withTimeout(context.close(), 10_000, 'context.close()').catch(() => {});
      }
    });
  }
});
