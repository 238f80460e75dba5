// Storage tiers in a real browser: an asset of `openvod serve` moved to cold storage
// answers 202 with a retry hint; the dashboard shows it cold with a Restore button; once
// restored (by the button) it plays again in the dashboard's hls.js, and hls.js on
// another page plays it to the end: nothing was lost on the way.

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

describe('storage tiers', () => {
  let tmp;
  let openvod;
  let base;
  let pages;
  let browser;
  let id;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openvod-tiers-'));
    const src = path.join(tmp, 'archive.mp4');
    await makeSource(src, 8);
    ({ child: openvod, base } = await startFastServe(tmp,
      `[tiers]\nretry_after_seconds = 2\ngrace_seconds = 0\ncold_root = "${path.join(tmp, 'cold-disk')}"\n`));
    ({ id } = await uploadReady(base, src, 'archive.mp4'));
    pages = await startServer({ mediaDir: tmp });
    browser = await launchChromium(chromium);
  }, { timeout: 240_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (pages) await pages.close?.();
    if (openvod) openvod.kill('SIGKILL');
    if (tmp && !env.OPENVOD_TEST_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function storageBecomes(state) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const a = await (await fetch(`${base}/v1/assets/${id}`)).json();
      if (a.storage === state) return a;
      if (Date.now() > deadline) assert.fail(`storage is ${a.storage}, not ${state}`);
      await sleep(200);
    }
  }

  it('an asset moved cold answers 202, is restored from the dashboard and plays again whole', async () => {
    const master = `${base}/play/${id}/master.m3u8`;
    const hot = await (await fetch(master)).text();
    const r = await fetch(`${base}/v1/assets/${id}/archive`, { method: 'POST' });
    assert.equal(r.status, 202);
    await storageBecomes('cold');
    // The cold copies are on the configured disk.
    assert.ok(fs.readdirSync(path.join(tmp, 'cold-disk', 'outputs')).length > 0);

    // The dashboard shows it cold, with no player, and a Restore button.
    const page = await browser.newPage();
    await page.goto(`${base}/#/asset/${id}`);
    await page.waitForSelector('#restore:not([hidden])', { timeout: 20_000 });
    assert.match(await page.textContent('#storage-state'), /cold/);
    assert.equal(await page.isHidden('#player-box'), true);

    await page.click('#restore');
    await storageBecomes('hot');
    // The page hears the event, shows the player and plays.
    await page.waitForFunction(() => {
      const v = document.querySelector('#player');
      return v && v.currentTime > 2 && v.videoWidth > 0;
    }, null, { timeout: 60_000 });
    assert.equal(await page.isHidden('#archive'), false);
    await page.close();
    assert.equal(await (await fetch(master)).text(), hot);
  });

  it('a viewer\'s request restores a cold asset, and hls.js then plays it to the end', async () => {
    const r = await fetch(`${base}/v1/assets/${id}/archive`, { method: 'POST' });
    assert.equal(r.status, 202);
    await storageBecomes('cold');
    const master = `${base}/play/${id}/master.m3u8`;
    const cold = await fetch(master);
    assert.equal(cold.status, 202);
    assert.equal(cold.headers.get('retry-after'), '2');
    assert.equal(cold.headers.get('cache-control'), 'no-store');
    assert.equal((await cold.json()).storage, 'restoring');
    // The retry hint is enough: by then the mover has brought it back.
    await sleep(2_000);
    await storageBecomes('hot');
    assert.equal((await fetch(master)).status, 200);
    const page = await browser.newPage();
    await page.goto(`${pages.url}/?player=hls&src=${encodeURIComponent(master)}`);
    await page.waitForFunction(() => window.__video && window.__video.ended, null, { timeout: 60_000 });
    assert.deepEqual(await page.evaluate(() => window.__errors), []);
    await page.close();
  });
});
