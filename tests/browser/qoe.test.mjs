// Viewers' quality of experience in a real browser: hls.js (CMCD in the query) and dash.js
// (CMCD in headers, through a CORS preflight) play an asset from `openvod serve`, and the
// asset's figures show each session with a startup time and the bit rate played; a run
// whose network Chromium throttles mid-play shows its rebuffering; the dashboard's own
// player sends its reports and its QoE panel lists the session.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';
import { launchChromium, makeSource, startFastServe, uploadReady } from './common.mjs';

const env = process.env;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('viewers\' quality of experience', () => {
  let tmp;
  let openvod;
  let base;
  let pages;
  let browser;
  let id;
  let bitrates;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openvod-qoe-'));
    const src = path.join(tmp, 'match.mp4');
    await makeSource(src, 24);
    ({ child: openvod, base } = await startFastServe(tmp));
    const a = await uploadReady(base, src, 'match.mp4');
    id = a.id;
    bitrates = a.renditions.filter((r) => r.width).map((r) => r.bitrate / 1000);
    // The players' page comes from another origin than the media, as on a real site.
    pages = await startServer({ mediaDir: tmp });
    browser = await launchChromium(chromium);
  }, { timeout: 240_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (pages) await pages.close?.();
    if (openvod) openvod.kill('SIGKILL');
    if (tmp && !env.OPENVOD_TEST_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // The session `sid` as the asset's figures show it, once the origin wrote it (every
  // 5 s) and `ok` holds of it.
  async function session(sid, ok, what) {
    const deadline = Date.now() + 40_000;
    let last;
    for (;;) {
      last = await (await fetch(`${base}/v1/assets/${id}/qoe`)).json();
      const s = last.sessions.find((x) => x.session === sid);
      if (s && ok(s)) return { s, q: last };
      if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(last)}`);
      await sleep(1_000);
    }
  }

  async function play(player, cmcd, sid, buffer) {
    const page = await browser.newPage();
    const src = `${base}/play/${id}/${player === 'dash' ? 'manifest.mpd' : 'master.m3u8'}`;
    await page.goto(`${pages.url}/?player=${player}&src=${encodeURIComponent(src)}&cmcd=${cmcd}&sid=${sid}&buffer=${buffer}`);
    return page;
  }

  async function playedPast(page, seconds) {
    await page.waitForFunction((t) => window.__video && window.__video.currentTime > t, seconds, { timeout: 60_000 });
    const errors = await page.evaluate(() => window.__errors);
    assert.deepEqual(errors, []);
  }

  for (const [player, cmcd] of [['hls', 'query'], ['dash', 'header']]) {
    it(`${player === 'hls' ? 'hls.js' : 'dash.js'} sends CMCD in the ${cmcd}; the asset's figures show its session, startup and bit rate`, { timeout: 120_000 }, async () => {
      const sid = `${player}-${cmcd}-1`;
      const page = await play(player, cmcd, sid, 4);
      try {
        await playedPast(page, 8);
        const { s, q } = await session(sid, (x) => x.startup_ms != null && x.bitrate_kbps != null, `${sid} with a startup and a bit rate`);
        assert.equal(s.outcome, 'started', JSON.stringify(s));
        assert.ok(s.startup_ms > 0 && s.startup_ms < 15_000, JSON.stringify(s));
        // The bit rate played lies within the ladder's (hls.js sends each rung's
        // declared rate, dash.js its @bandwidth: the peak).
        const lo = Math.min(...bitrates) * 0.5, hi = Math.max(...bitrates) * 3;
        assert.ok(s.bitrate_kbps >= lo && s.bitrate_kbps <= hi, `${s.bitrate_kbps} kb/s against ${bitrates}`);
        assert.ok(s.buffer_ms != null, JSON.stringify(s));
        // hls.js sends its bandwidth estimate (`mtp`) on every request; dash.js 5 only
        // once its throughput model has a safe average.
        if (player === 'hls') assert.ok(s.throughput_kbps > 0, JSON.stringify(s));
        assert.equal(s.origin_errors, 0, JSON.stringify(s));
        assert.ok(q.summary.sessions >= 1 && q.summary.started >= 1, JSON.stringify(q.summary));
        assert.ok(q.series.length >= 1, JSON.stringify(q.series));
      } finally {
        await page.close();
      }
    });
  }

  it('a network throttled mid-play shows as rebuffering', { timeout: 150_000 }, async () => {
    const sid = 'hls-throttled-1';
    const page = await play('hls', 'query', sid, 2);
    try {
      await playedPast(page, 1);
      // Chromium's own network conditions: far below the lowest rung until the player
      // stalls, then the network comes back and the next segment says the buffer ran dry.
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 200, downloadThroughput: 4_000, uploadThroughput: 4_000 });
      await page.waitForFunction(() => window.__video.readyState < 3 && !window.__video.paused, null, { timeout: 60_000 });
      await sleep(1_500);
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      const stalledAt = await page.evaluate(() => window.__video.currentTime);
      await playedPast(page, stalledAt + 3);
      const { s } = await session(sid, (x) => x.rebuffers >= 1, `${sid} with a stall`);
      assert.equal(s.outcome, 'started', JSON.stringify(s));
      const q = await (await fetch(`${base}/v1/assets/${id}/qoe`)).json();
      assert.ok(q.summary.sessions_with_rebuffers >= 1, JSON.stringify(q.summary));
      // Across assets, in the metrics: the stall and the startup, no asset label.
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^openvod_qoe_rebuffers_total [1-9]/m);
      assert.match(metrics, /^openvod_qoe_startup_seconds_count [1-9]/m);
      assert.doesNotMatch(metrics, new RegExp(id));
    } finally {
      await page.close();
    }
  });

  it('the dashboard\'s player reports its session, and the asset page shows it', { timeout: 120_000 }, async () => {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      const reports = [];
      page.on('request', (r) => { if (r.url().endsWith('/v1/qoe')) reports.push(r.postData()); });
      await page.goto(`${base}/#/asset/${id}`);
      await page.waitForFunction(() => document.querySelector('#player').currentTime > 3, null, { timeout: 60_000 });
      const first = JSON.parse(reports[0] ?? '{}');
      assert.ok(first.startup_ms > 0 && first.session, `the first report: ${reports[0]}`);
      // Refreshed until the origin has written the session (every 5 s).
      const deadline = Date.now() + 40_000;
      for (;;) {
        await page.click('#qoe-refresh');
        await sleep(1_000);
        const rows = await page.$$eval('#qoe-sessions tbody tr', (r) => r.map((x) => [x.dataset.session, x.textContent]));
        const mine = rows.find(([s]) => s === first.session);
        if (mine && /started/.test(mine[1])) break;
        assert.ok(Date.now() < deadline, `no started session ${first.session} in ${JSON.stringify(rows)}`);
      }
      assert.match(await page.textContent('#qoe-summary'), /\d+ sessions? in the last week: \d+ started/);
      assert.equal(await page.locator('#qoe-startup circle').count() >= 1, true);
      // The dashboard's player sends CMCD too: its requests carry the same session.
      const q = await (await fetch(`${base}/v1/assets/${id}/qoe`)).json();
      const s = q.sessions.find((x) => x.session === first.session);
      assert.ok(s.requests > 0 && s.bitrate_kbps > 0, JSON.stringify(s));
      assert.equal(s.startup_ms, first.startup_ms, 'the player\'s own startup figure');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
});
