// The dashboard in a real browser: Chromium uploads a file through the page (tus), sees
// it become ready in the live list, opens it, sees the per-title ladder chosen for it and
// plays it, and a screenshot is kept. Tracks are added to an asset, and a clip is cut
// from it that plays with them.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ARTIFACTS, CHROMIUM_ARGS, REPO, findOpenvod, run, withTimeout } from './common.mjs';

const env = process.env;

describe('the dashboard', () => {
  let tmp;
  let server;
  let base;
  let browser;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openvod-dashboard-'));
    const src = path.join(tmp, 'holiday.mp4');
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25:duration=8',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=8',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', src,
    ], { timeoutMs: 60_000 });
    const template = fs.readFileSync(path.join(REPO, 'crates/transcode/templates/default.toml'), 'utf8')
      .replace('preset = "medium"', 'preset = "superfast"')
      .replace('mode = "fixed"', 'mode = "per-title"')
      .replace('downloads = false', 'downloads = true');
    assert.match(template, /mode = "per-title"/);
    assert.match(template, /downloads = true/);
    fs.writeFileSync(path.join(tmp, 'fast.toml'), template);
    // Packaged on request, a fixed ladder: the template the tracks test uploads with.
    const jit = fs.readFileSync(path.join(REPO, 'crates/transcode/templates/default.toml'), 'utf8')
      .replace('preset = "medium"', 'preset = "superfast"')
      .replace('mode = "static"', 'mode = "jit"');
    assert.match(jit, /mode = "jit"/);
    fs.writeFileSync(path.join(tmp, 'jit.toml'), jit);
    const config = path.join(tmp, 'openvod.toml');
    fs.writeFileSync(config, `data_dir = "${path.join(tmp, 'data')}"\n[templates]\ndefault = "${path.join(tmp, 'fast.toml')}"\njit = "${path.join(tmp, 'jit.toml')}"\n`);
    server = spawn(findOpenvod(), ['serve', '--config', config, '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...env, OPENVOD_LOG: 'warn' },
    });
    base = await withTimeout(new Promise((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/listening on (http:\/\/\S+)/);
        if (m) resolve(m[1]);
      });
      server.on('exit', (code) => reject(new Error(`openvod serve exited with ${code}`)));
    }), 30_000, 'openvod serve');
    browser = await chromium.launch({ executablePath: env.CHROMIUM_BIN ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  }, { timeout: 120_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (server) server.kill('SIGKILL');
    if (tmp && !env.OPENVOD_TEST_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('uploads through the page, goes ready live, and plays with a quality selector', { timeout: 240_000 }, async () => {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(base + '/');
      await page.setInputFiles('#file', path.join(tmp, 'holiday.mp4'));
      // The row appears and turns ready without a reload: the list follows the event stream.
      const row = page.locator('tr.asset', { hasText: 'holiday.mp4' });
      await row.locator('.status.ready').waitFor({ timeout: 180_000 });
      // The list shows the poster, the duration, the resolution and the size.
      await page.waitForFunction(() => {
        const img = document.querySelector('tr.asset img.poster');
        return img && img.complete && img.naturalWidth === 640;
      }, null, { timeout: 30_000 });
      const cells = await row.locator('td').allTextContents();
      assert.ok(cells.some((c) => /^0:\d\d$/.test(c)) && cells.includes('640x360') && cells.some((c) => / MB$/.test(c)), cells.join(' | '));
      await row.click();
      await page.waitForFunction(() => {
        const v = document.querySelector('#player');
        return v && v.currentTime > 3 && v.videoWidth > 0;
      }, null, { timeout: 60_000 });
      // Storyboard previews on the seek bar: hovering its middle shows the tile of that
      // time from the sprite.
      await page.locator('#scrub').waitFor({ state: 'visible', timeout: 10_000 });
      const seek = await page.locator('#seek').boundingBox();
      await page.mouse.move(seek.x + seek.width / 2, seek.y + seek.height / 2);
      await page.locator('#preview').waitFor({ state: 'visible', timeout: 5_000 });
      const tile = await page.$eval('#preview-image', (d) => ({ image: d.style.backgroundImage, at: d.style.backgroundPosition, width: d.style.width }));
      assert.match(tile.image, /\/play\/[0-9a-f]{32}\/storyboard\.jpg/);
      assert.equal(tile.width, '160px');
      // 8 s, a tile every 2 s: the middle (4 s) is the third tile, at x = 320.
      assert.match(tile.at, /^-320px /, JSON.stringify(tile));
      // Download links: the top rung with its audio, and the audio alone.
      const links = await page.$$eval('#downloads a', (a) => a.map((x) => x.getAttribute('href')));
      assert.equal(links.length, 2, links.join(', '));
      assert.ok(links.every((l) => /^\/download\/[0-9a-f]{32}\/(360p\.mp4|audio\.m4a)$/.test(l)), links.join(', '));
      // The frame shown becomes the poster.
      const [put] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/poster') && r.request().method() === 'PUT'),
        page.click('#set-poster'),
      ]);
      assert.equal(put.status(), 200);
      assert.ok((await put.json()).poster_time > 0);
      // The per-title decision: its rungs in a table, the samples and the hull plotted.
      await page.locator('#ladder-box').waitFor({ state: 'visible' });
      const rungs = await page.$$eval('#ladder-rungs tbody tr', (r) => r.map((x) => x.textContent));
      assert.ok(rungs.length >= 1 && rungs.every((r) => r.startsWith('360p')), rungs.join(' | '));
      assert.equal(await page.locator('#ladder-plot circle.sample').count(), 3, 'one size at three CRFs');
      assert.equal(await page.locator('#ladder-plot circle.rung').count(), rungs.length);
      assert.match(await page.textContent('#ladder-summary'), /in h264, top rung at score 98/);
      const qualities = await page.$$eval('#quality option', (o) => o.map((x) => x.textContent));
      assert.ok(qualities.includes('Auto') && qualities.some((q) => q.startsWith('360p')), qualities.join(', '));
      const embed = await page.inputValue('#embed');
      assert.match(embed, /\/play\/[0-9a-f]{32}\/master\.m3u8/);
      assert.equal(await page.evaluate(() => window.__playerError ?? null), null);
      assert.deepEqual(errors, []);
    } finally {
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true }).catch(() => {});
      await page.close();
    }
  });

  it('adds a subtitle file and a dub to a ready asset, offers them in the player, and removes the subtitles', { timeout: 240_000 }, async () => {
    const created = await fetch(`${base}/v1/assets?name=talk.mp4&template=jit`, { method: 'POST', body: fs.readFileSync(path.join(tmp, 'holiday.mp4')) });
    assert.equal(created.status, 201);
    const { id } = await created.json();
    const deadline = Date.now() + 180_000;
    for (;;) {
      const a = await (await fetch(`${base}/v1/assets/${id}`)).json();
      if (a.status === 'ready') break;
      assert.ok(['queued', 'processing', 'playable'].includes(a.status) && Date.now() < deadline, JSON.stringify(a));
      await new Promise((r) => setTimeout(r, 300));
    }
    const vtt = path.join(tmp, 'spanish.vtt');
    fs.writeFileSync(vtt, 'WEBVTT\n\n00:00:00.500 --> 00:00:07.500\nHola desde el panel\n');
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${base}/#/asset/${id}`);
      await page.locator('#tracks-box').waitFor({ state: 'visible', timeout: 30_000 });
      assert.equal(await page.locator('#text-tracks li').count(), 0);
      await page.setInputFiles('#track-file', vtt);
      await page.fill('#track-language', 'es');
      const [post] = await Promise.all([
        page.waitForResponse((r) => r.url().includes(`/v1/assets/${id}/tracks`) && r.request().method() === 'POST'),
        page.click('#add-track button[type="submit"]'),
      ]);
      assert.equal(post.status(), 201, 'the track is added');
      await page.locator('#text-tracks li[data-track="subs-es"]').waitFor({ timeout: 10_000 });
      assert.match(await page.textContent('#track-result'), /Added subs-es/);
      // The player, loaded again, lists the new track; chosen, its cue is shown.
      await page.locator('#subtitle-box').waitFor({ state: 'visible', timeout: 30_000 });
      const options = await page.$$eval('#subtitle-track option', (o) => o.map((x) => x.textContent));
      assert.ok(options.includes('Spanish'), options.join(', '));
      await page.selectOption('#subtitle-track', { label: 'Spanish' });
      await page.waitForFunction(() => Array.from(document.querySelector('#player').textTracks).some((t) =>
        t.mode === 'showing' && t.cues && Array.from(t.cues).some((c) => c.text.includes('Hola desde el panel'))), null, { timeout: 30_000 });
      // Removed: gone from the page and from the playlist.
      const [del] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith(`/v1/assets/${id}/tracks/subs-es`) && r.request().method() === 'DELETE'),
        page.click('#text-tracks button.remove-track[data-name="subs-es"]'),
      ]);
      assert.equal(del.status(), 200, 'the track is removed');
      await page.locator('#text-tracks li').waitFor({ state: 'detached', timeout: 10_000 });
      const master = await (await fetch(`${base}/play/${id}/master.m3u8`)).text();
      assert.doesNotMatch(master, /TYPE=SUBTITLES/);
      // A dub from the same form: the player then offers a second audio language.
      const dub = path.join(tmp, 'spanish.m4a');
      await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
        '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000:duration=8', '-c:a', 'aac', dub], { timeoutMs: 60_000 });
      await page.selectOption('#track-kind', 'audio');
      await page.locator('#track-fit-box').waitFor({ state: 'visible' });
      await page.setInputFiles('#track-file', dub);
      await page.fill('#track-language', 'es');
      const [posted] = await Promise.all([
        page.waitForResponse((r) => r.url().includes(`/v1/assets/${id}/tracks?kind=audio`) && r.request().method() === 'POST'),
        page.click('#add-track button[type="submit"]'),
      ]);
      assert.equal(posted.status(), 201, 'the dub is added');
      assert.match(await page.textContent('#track-result'), /Added audio-es/);
      await page.locator('#text-tracks li[data-track="audio-es"] button.remove-track').waitFor({ timeout: 10_000 });
      await page.locator('#audio-box').waitFor({ state: 'visible', timeout: 30_000 });
      const languages = await page.$$eval('#audio-track option', (o) => o.map((x) => x.textContent));
      assert.equal(languages.length, 2, languages.join(', '));
      assert.ok(languages.includes('Spanish'), languages.join(', '));
      assert.equal(await page.evaluate(() => window.__playerError ?? null), null);

      // A clip of it from the same page: 1 s to 5 s on keyframes (2 s GOPs: 0 s to 6 s),
      // with the dub added since its encode.
      await page.fill('#clip-start', '1');
      await page.fill('#clip-end', '5');
      const [clipped] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith(`/v1/assets/${id}/clips`) && r.request().method() === 'POST'),
        page.click('#make-clip button[type="submit"]'),
      ]);
      assert.equal(clipped.status(), 201, 'the clip is queued');
      const clipId = (await clipped.json()).id;
      await page.click('#clip-result a');
      await page.waitForFunction((c) => location.hash === `#/asset/${c}`, clipId);
      // It turns ready on the page, plays, names its parent and keeps both languages.
      await page.waitForFunction(() => {
        const v = document.querySelector('#player');
        return v && v.currentTime > 2 && v.videoWidth > 0;
      }, null, { timeout: 120_000 });
      assert.equal(await page.isHidden('#clip-of'), false);
      assert.equal(await page.getAttribute('#clip-parent', 'href'), `#/asset/${id}`);
      await page.locator('#audio-box').waitFor({ state: 'visible', timeout: 30_000 });
      const clipLanguages = await page.$$eval('#audio-track option', (o) => o.map((x) => x.textContent));
      assert.ok(clipLanguages.includes('Spanish') && clipLanguages.length === 2, clipLanguages.join(', '));
      const clip = await (await fetch(`${base}/v1/assets/${clipId}`)).json();
      assert.deepEqual(clip.clip, { of: id, start: 1, end: 5, mode: 'keyframe' });
      assert.equal(await page.evaluate(() => window.__playerError ?? null), null);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('shows the warnings of an asset in the list and on its page', { timeout: 180_000 }, async () => {
    // A 4 s Matroska file whose Segment Duration (ID 0x4489, 8-byte float, ms) says 10 s:
    // it is published with an overstated_duration warning.
    const real = path.join(tmp, 'real.mkv');
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=4',
      '-f', 'lavfi', '-i', 'sine=sample_rate=48000:duration=4',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', real,
    ], { timeoutMs: 60_000 });
    const bytes = fs.readFileSync(real);
    const at = bytes.indexOf(Buffer.from([0x44, 0x89, 0x88]));
    assert.ok(at > 0, 'a Duration element');
    bytes.writeDoubleBE(10_000, at + 3);
    const created = await fetch(`${base}/v1/assets?name=overstated.mkv`, { method: 'POST', body: bytes });
    assert.equal(created.status, 201);
    const { id } = await created.json();
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(base + '/');
      const row = page.locator('tr.asset', { hasText: 'overstated.mkv' });
      await row.locator('.status.ready').waitFor({ timeout: 150_000 });
      const listed = await row.locator('.warning').textContent();
      assert.match(listed, /say it lasts 10\.00 s/);
      await row.click();
      await page.waitForURL(`**/#/asset/${id}`);
      const item = page.locator('#asset-warnings li[data-code="overstated_duration"]');
      await item.waitFor({ timeout: 10_000 });
      assert.match(await item.textContent(), /^Source duration: the source's headers say it lasts 10\.00 s/);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
});
