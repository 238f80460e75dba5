// Multi-CDN content steering in a real browser: `openvod serve` with two pathways, each a
// proxy in front of it standing in for a CDN. hls.js and dash.js start on one pathway;
// when that CDN dies mid-play they carry on through the other to the end, and the
// steering server puts the dead pathway last.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';
import { launchChromium, makeSource, startFastServe, uploadReady } from './common.mjs';

const env = process.env;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A CDN stand-in: forwards every request to the origin with its own Host header (so the
// origin knows which pathway a request came through), and counts media segments. It can
// die (no connection accepted, open ones cut) and come back on the same port.
function cdn(originPort) {
  const counts = { segments: 0 };
  let server = null;
  let sockets = new Set();
  let port = 0;
  const start = () => new Promise((resolve) => {
    sockets = new Set();
    server = http.createServer((req, res) => {
      if (/\.m4s(\?|$)/.test(req.url)) counts.segments += 1;
      const up = http.request({ host: '127.0.0.1', port: originPort, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on('error', () => { res.writeHead(502); res.end(); });
      req.pipe(up);
    });
    server.on('connection', (c) => { sockets.add(c); c.on('close', () => sockets.delete(c)); });
    server.listen(port, '127.0.0.1', () => { port = server.address().port; resolve(port); });
  });
  return {
    counts,
    start,
    port: () => port,
    kill: () => new Promise((resolve) => {
      server.close(() => resolve());
      for (const c of sockets) c.destroy();
    }),
  };
}

async function freePort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

describe('content steering across two CDNs', () => {
  let tmp;
  let openvod;
  let base;
  let pages;
  let browser;
  let id;
  let originPort;
  const cdns = {};

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openvod-steering-'));
    const src = path.join(tmp, 'race.mp4');
    await makeSource(src, 20);
    originPort = await freePort();
    const ports = {};
    for (const name of ['cdn-a', 'cdn-b']) {
      cdns[name] = cdn(originPort);
      ports[name] = await cdns[name].start();
    }
    const steering = [
      '[steering]', 'ttl_seconds = 2', 'health_every_seconds = 1',
      ...Object.entries(ports).flatMap(([name, port]) => ['[[steering.pathways]]', `id = "${name}"`, `base = "http://127.0.0.1:${port}"`]),
      '',
    ].join('\n');
    ({ child: openvod, base } = await startFastServe(tmp, steering, `127.0.0.1:${originPort}`));
    id = (await uploadReady(base, src, 'race.mp4')).id;
    pages = await startServer({ mediaDir: tmp });
    browser = await launchChromium(chromium);
  }, { timeout: 240_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (pages) await pages.close?.();
    for (const c of Object.values(cdns)) await c.kill().catch(() => {});
    if (openvod) openvod.kill('SIGKILL');
    if (tmp && !env.OPENVOD_TEST_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the manifests offer both pathways and the steering server answers for each format', async () => {
    const master = await (await fetch(`${base}/play/${id}/master.m3u8`)).text();
    assert.match(master, new RegExp(`#EXT-X-CONTENT-STEERING:SERVER-URI="${base}/steer/${id}/hls.json",PATHWAY-ID="cdn-a"`));
    assert.equal(master.match(/PATHWAY-ID="cdn-b"/g)?.length >= 1, true, master);
    const mpd = await (await fetch(`${base}/play/${id}/manifest.mpd`)).text();
    assert.match(mpd, /<BaseURL serviceLocation="cdn-b">http:\/\/127\.0\.0\.1:\d+\/play\/[0-9a-f]{32}\/<\/BaseURL>/);
    assert.match(mpd, /<ContentSteering defaultServiceLocation="cdn-a"/);
    const hls = await (await fetch(`${base}/steer/${id}/hls.json?_HLS_pathway=cdn-b`)).json();
    assert.deepEqual(hls['PATHWAY-PRIORITY'], ['cdn-b', 'cdn-a'], 'the pathway in use stays first');
    assert.equal(hls.TTL, 2);
    const dash = await (await fetch(`${base}/steer/${id}/dash.json`)).json();
    assert.equal(dash['SERVICE-LOCATION-PRIORITY'].length, 2);
  });

  for (const [player, manifest] of [['hls', 'master.m3u8'], ['dash', 'manifest.mpd']]) {
    it(`${player === 'hls' ? 'hls.js' : 'dash.js'} carries on through the other CDN when the one it uses dies`, { timeout: 120_000 }, async () => {
      for (const c of Object.values(cdns)) c.counts.segments = 0;
      const page = await browser.newPage();
      try {
        const src = `${base}/play/${id}/${manifest}`;
        await page.goto(`${pages.url}/?player=${player}&src=${encodeURIComponent(src)}&buffer=4`);
        await page.waitForFunction(() => window.__video && window.__video.currentTime > 2, null, { timeout: 60_000 });
        const used = Object.entries(cdns).sort((x, y) => y[1].counts.segments - x[1].counts.segments)[0];
        const [usedName, usedCdn] = used;
        const [otherName, otherCdn] = Object.entries(cdns).find(([n]) => n !== usedName);
        assert.ok(usedCdn.counts.segments > 0, 'segments came through a pathway');
        const before = otherCdn.counts.segments;
        await usedCdn.kill();
        // The steering server notices within a probe or two.
        const deadline = Date.now() + 10_000;
        for (;;) {
          const order = (await (await fetch(`${base}/steer/${id}/hls.json?_HLS_pathway=${usedName}`)).json())['PATHWAY-PRIORITY'];
          if (order[0] === otherName) break;
          assert.ok(Date.now() < deadline, `still ${order}`);
          await sleep(250);
        }
        await page.waitForFunction(() => window.__video.ended || window.__video.currentTime > 18, null, { timeout: 90_000 });
        assert.ok(otherCdn.counts.segments > before, `${otherName} served the rest`);
        // dash.js reports the failed download of the dead CDN as an error event before it
        // moves to the next BaseURL; nothing else may fail.
        const errors = (await page.evaluate(() => window.__errors))
          .filter((e) => !(player === 'dash' && e.code === 27 && e.message.includes(`:${usedCdn.port()}/`)));
        assert.deepEqual(errors, []);
        // Back for the next player, and the steering server sees it again.
        await usedCdn.start();
      } finally {
        await page.close();
      }
    });
  }
});
