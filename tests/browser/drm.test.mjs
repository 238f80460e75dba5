// Protected playback end to end: an asset with `signed` playback and a template that
// writes cenc, cbcs and AES-128 copies goes through `openvod serve` (packaged ahead of
// time, and a second one packaged on request by the origin); URLs are signed by
// botocore's CloudFrontSigner (code nobody here wrote); Chromium plays them through
// Shaka Player and dash.js with keys from openvod's ClearKey licence server, and through
// hls.js with openvod's AES-128 key endpoint. A wrong key, a missing or a tampered
// signature each stop playback. The template encodes in chunks of 4 s (three chunks of the
// 12 s source, joined before packaging), so every copy here is of a chunked encode.
//
// Needs python with botocore and rsa: $OPENVOD_PYTHON, else ~/.cache/openvod/venv.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';
import { ARTIFACTS, CHROMIUM_ARGS, REPO, findOpenvod, run, slug, withTimeout } from './common.mjs';

const env = process.env;
const PLAY_SECONDS = 5;
const PLAY_TIMEOUT_MS = Number(env.OPENVOD_PLAY_TIMEOUT_MS ?? 40_000);
const KEY_DATA = path.join(REPO, 'crates/access/tests/data');
const KEY_PAIR_ID = 'K2OPENVODTEST';
const ADMIN = 'admin-token-for-the-drm-browser-test';
const PYTHON = env.OPENVOD_PYTHON ?? path.join(os.homedir(), '.cache/openvod/venv/bin/python');

const SIGN_PY = `
import json, sys, datetime
import rsa
from botocore.signers import CloudFrontSigner
key = rsa.PrivateKey.load_pkcs1(open(sys.argv[1], 'rb').read())
signer = CloudFrontSigner(sys.argv[2], lambda m: rsa.sign(m, key, 'SHA-1'))
resource, expires = sys.argv[3], datetime.datetime.fromtimestamp(int(sys.argv[4]), datetime.timezone.utc)
policy = signer.build_policy(resource, expires)
print(json.dumps({'url': signer.generate_presigned_url(sys.argv[5], policy=policy)}))
`;

describe('signed, encrypted playback in Chromium', () => {
  let tmp;
  let openvod;
  let base;
  let asset;
  let other; // the id of a second asset
  let jit; // the id of an asset packaged on request
  let page_server;
  let browser;
  let signed; // query string of the botocore wildcard signature
  let jitSigned; // the same for the asset packaged on request
  let setupError = null;

  async function botocoreSign(resource, url, expires) {
    const { stdout } = await run(PYTHON, [
      '-c', SIGN_PY, path.join(KEY_DATA, 'test_only_signer_a_pkcs1.pem'), KEY_PAIR_ID, resource, String(expires), url,
    ], { timeoutMs: 30_000 });
    return JSON.parse(stdout).url;
  }

  async function api(method, p, body, headers = {}) {
    const r = await fetch(base + p, { method, body, headers: { authorization: `Bearer ${ADMIN}`, ...headers } });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
    return JSON.parse(text);
  }

  async function setup() {
    if (!fs.existsSync(PYTHON)) throw new Error(`no python with botocore at ${PYTHON} (scripts/setup.sh need_python)`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openvod-drm-'));
    const src = path.join(tmp, 'source.mp4');
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25:duration=12',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=12',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', src,
    ], { timeoutMs: 60_000 });
    // Two rungs of different track types (HD, SD) and audio: three keys; the first segment
    // is a clear lead.
    const template = `name = "drm"
[video]
preset = "superfast"
chunk_seconds = 4.0
[[video.rungs]]
name = "720p"
height = 720
max_bitrate = 3_000_000
[[video.rungs]]
name = "360p"
height = 360
max_bitrate = 800_000
[audio]
[protection]
outputs = ["cenc", "cbcs", "aes-128"]
drm_systems = ["widevine", "playready", "fairplay", "clearkey"]
keys = "per-track-type"
clear_lead_seconds = 2
`;
    fs.writeFileSync(path.join(tmp, 'drm.toml'), template);
    // The same, packaged on request by the origin from one stored copy per rendition,
    // with a clear copy too.
    fs.writeFileSync(
      path.join(tmp, 'jit.toml'),
      template
        .replace('name = "drm"', 'name = "jit"')
        .replace('outputs = ["cenc", "cbcs", "aes-128"]', 'outputs = ["clear", "cenc", "cbcs", "aes-128"]')
        .replace('[protection]', '[packaging]\nmode = "jit"\n[protection]'),
    );
    const config = path.join(tmp, 'openvod.toml');
    fs.writeFileSync(config, [
      `data_dir = "${path.join(tmp, 'data')}"`,
      '[drm]',
      `master_key = "${'5a'.repeat(32)}"`,
      '[access]',
      `admin_tokens = ["${ADMIN}"]`,
      'default_playback = "signed"',
      `trusted_keys = ["${KEY_PAIR_ID}=${path.join(KEY_DATA, 'test_only_signer_a_spki.pub.pem')}"]`,
      '[templates]',
      `drm = "${path.join(tmp, 'drm.toml')}"`,
      `jit = "${path.join(tmp, 'jit.toml')}"`,
      '',
    ].join('\n'));
    openvod = spawn(findOpenvod(), ['serve', '--config', config, '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, OPENVOD_LOG: 'info' },
    });
    let log = '';
    openvod.stderr.on('data', (d) => (log += d));
    openvod.logText = () => log;
    base = await withTimeout(new Promise((resolve, reject) => {
      let out = '';
      openvod.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/listening on (http:\/\/\S+)/);
        if (m) resolve(m[1]);
      });
      openvod.on('exit', (code) => reject(new Error(`openvod serve exited with ${code}:\n${log}`)));
    }), 30_000, 'openvod serve');
    const created = await api('POST', '/v1/assets?template=drm&name=source.mp4', fs.readFileSync(src));
    // A second asset: a signature for the first must not open it.
    const second = await api('POST', '/v1/assets?template=drm&name=other.mp4', fs.readFileSync(src));
    const third = await api('POST', '/v1/assets?template=jit&name=jit.mp4', fs.readFileSync(src));
    const deadline = Date.now() + 300_000;
    for (const id of [second.id, third.id, created.id]) {
      for (;;) {
        asset = await api('GET', `/v1/assets/${id}`);
        if (asset.status === 'ready') {
          // Three chunks and the audio, joined before packaging.
          const parts = asset.tasks.filter((t) => t.stage === 'encode').length;
          if (parts !== 4) throw new Error(`encoded in ${parts} parts, not 4: ${JSON.stringify(asset.tasks)}`);
          break;
        }
        if (asset.status === 'failed') throw new Error(`asset failed: ${JSON.stringify(asset.error)}`);
        if (Date.now() > deadline) throw new Error(`asset not ready in time: ${JSON.stringify(asset)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    other = second.id;
    jit = third.id;
    const expires = Math.floor(Date.now() / 1000) + 3600;
    const url = await botocoreSign(`${base}/play/${asset.id}/*`, `${base}/play/${asset.id}/cenc/manifest.mpd`, expires);
    signed = url.split('?')[1];
    jitSigned = (await botocoreSign(`${base}/play/${jit}/*`, `${base}/play/${jit}/master.m3u8`, expires)).split('?')[1];
    page_server = await startServer({ mediaDir: tmp });
    browser = await chromium.launch({ executablePath: env.CHROMIUM_BIN ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  }

  before(async () => {
    try {
      await setup();
    } catch (e) {
      setupError = e;
      console.error(`setup failed: ${e.message}`);
    }
  }, { timeout: 420_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (page_server) await page_server.close().catch(() => {});
    if (openvod) {
      openvod.kill('SIGKILL');
      // No key may ever appear in the log.
      const log = openvod.logText();
      for (const k of await keysOf().catch(() => [])) {
        assert.ok(!log.includes(k), 'a content key appears in the log');
      }
    }
    if (tmp && !env.OPENVOD_TEST_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // The keys as hex, read back from the licence server (for the log check).
  async function keysOf() {
    const mpd = await (await fetch(`${base}/play/${asset.id}/cenc/manifest.mpd?${signed}`)).text();
    const kids = [...new Set([...mpd.matchAll(/cenc:default_KID="([0-9a-f-]+)"/g)].map((m) => m[1].replaceAll('-', '')))];
    const b64url = (hex) => Buffer.from(hex, 'hex').toString('base64url');
    const r = await fetch(`${base}/v1/drm/clearkey?${signed}`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kids: kids.map(b64url), type: 'temporary' }),
    });
    const licence = await r.json();
    return licence.keys.map((k) => Buffer.from(k.k, 'base64url').toString('hex'));
  }

  async function play(t, { player, manifest, licence = true, extra = '', expectPlay = true, id = asset.id }) {
    const query = id === asset.id ? signed : jitSigned;
    const src = `${base}/play/${id}/${manifest}?${query}`;
    let url = `${page_server.url}/?player=${player}&src=${encodeURIComponent(src)}`;
    if (licence) url += `&licence=${encodeURIComponent(`${base}/v1/drm/clearkey?${query}`)}`;
    url += extra;
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    try {
      await page.goto(url, { timeout: 15_000 });
      await page.waitForFunction(
        (secs) => (window.__errors?.length ?? 0) > 0 || ((window.__video?.currentTime ?? 0) > secs && window.__video.webkitVideoDecodedByteCount > 0),
        PLAY_SECONDS,
        { timeout: expectPlay ? PLAY_TIMEOUT_MS : 20_000, polling: 250 },
      ).catch(() => {});
      const state = await page.evaluate(() => window.__state());
      t.diagnostic(`${player} ${manifest}: t=${state.currentTime.toFixed(2)} ${state.videoWidth}x${state.videoHeight} errors=${JSON.stringify(state.errors).slice(0, 300)}`);
      const played = state.errors.length === 0 && state.currentTime > PLAY_SECONDS && state.videoWidth > 0;
      if (expectPlay && !played) {
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        const out = path.join(ARTIFACTS, slug(`drm-${player}-${manifest}`));
        await page.screenshot({ path: `${out}.png` }).catch(() => {});
        fs.writeFileSync(`${out}.json`, JSON.stringify({ url, state, console: consoleLines }, null, 2));
        assert.fail(`${player} did not play ${manifest}: ${JSON.stringify(state).slice(0, 1500)}\nconsole: ${consoleLines.slice(-20).join('\n')}`);
      }
      if (expectPlay) assert.ok(state.audioDecodedBytes > 0, 'no audio decoded');
      return { played, state };
    } finally {
      await context.close().catch(() => {});
    }
  }

  it('refuses unsigned, tampered and other-asset requests with 403', async () => {
    if (setupError) throw setupError;
    const p = `/play/${asset.id}/cenc/manifest.mpd`;
    assert.equal((await fetch(base + p)).status, 403, 'no signature');
    const tampered = signed.replace(/Signature=([A-Za-z0-9~_-])/, (_, c) => `Signature=${c === 'A' ? 'B' : 'A'}`);
    assert.equal((await fetch(`${base}${p}?${tampered}`)).status, 403, 'tampered signature');
    const otherKeyId = signed.replace(`Key-Pair-Id=${KEY_PAIR_ID}`, 'Key-Pair-Id=K2UNKNOWN');
    assert.equal((await fetch(`${base}${p}?${otherKeyId}`)).status, 403, 'unknown key pair id');
    assert.equal((await fetch(`${base}${p}?${signed}`)).status, 200, 'signed');
    assert.equal((await fetch(`${base}/play/${other}/cenc/manifest.mpd?${signed}`)).status, 403, 'another asset');
    assert.equal((await fetch(`${base}/play/${other}/cenc/720p/1.m4s?${signed}`)).status, 403, 'another asset');
    // An expired botocore signature is refused.
    const stale = await botocoreSign(`${base}/play/${asset.id}/*`, `${base}${p}`, Math.floor(Date.now() / 1000) - 10);
    assert.equal((await fetch(stale)).status, 403, 'expired');
    // The manifest hands the signature to its children; segments keep one cache identity.
    const mpd = await (await fetch(`${base}${p}?${signed}`)).text();
    assert.match(mpd, /media="720p\/\$Number\$\.m4s\?Policy=[^"]+&amp;Signature=/);
    assert.match(mpd, /cenc:default_KID=/);
    assert.match(mpd, /urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed/);
    assert.match(mpd, /urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95/);
    assert.match(mpd, /urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e/);
    const seg = `${base}/play/${asset.id}/cenc/720p/1.m4s?${signed}`;
    const a = await fetch(seg);
    const b = await fetch(seg.replace(/Policy=[^&]+&Signature=[^&]+&Key-Pair-Id=[^&]+/, '') , { headers: { cookie: signed.split('&').map((kv) => 'CloudFront-' + kv).join('; ') } });
    assert.equal(a.status, 200);
    assert.equal(b.status, 200, 'signed cookies open the same segment');
    assert.equal(a.headers.get('etag'), b.headers.get('etag'));
    assert.equal(a.headers.get('cache-control'), b.headers.get('cache-control'));
    // An AES-128 key needs the signature too, and belongs to this asset only.
    const m3u8 = await (await fetch(`${base}/play/${asset.id}/aes128/720p/index.m3u8?${signed}`)).text();
    const keyUri = m3u8.match(/#EXT-X-KEY:METHOD=AES-128,URI="([^"]+)"/)[1];
    assert.match(keyUri, /\?Policy=/);
    const keyUrl = new URL(keyUri, `${base}/play/${asset.id}/aes128/720p/index.m3u8`).toString();
    const key = await fetch(keyUrl);
    assert.equal(key.status, 200);
    assert.equal((await key.arrayBuffer()).byteLength, 16);
    assert.equal((await fetch(keyUrl.split('?')[0])).status, 403, 'key without signature');
    // The cbcs HLS copy signals FairPlay, Widevine and PlayReady.
    const cbcs = await (await fetch(`${base}/play/${asset.id}/cbcs/master.m3u8?${signed}`)).text();
    assert.match(cbcs, /#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd:\/\//);
    assert.match(cbcs, /KEYFORMAT="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"/);
  });

  it('refuses a licence without a valid signature', async () => {
    if (setupError) throw setupError;
    const mpd = await (await fetch(`${base}/play/${asset.id}/cenc/manifest.mpd?${signed}`)).text();
    const kid = mpd.match(/cenc:default_KID="([0-9a-f-]+)"/)[1].replaceAll('-', '');
    const body = JSON.stringify({ kids: [Buffer.from(kid, 'hex').toString('base64url')], type: 'temporary' });
    const ask = (q, init = {}) => fetch(`${base}/v1/drm/clearkey${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, ...init });
    assert.equal((await ask('')).status, 403);
    assert.equal((await ask(`?${signed}`)).status, 200);
    assert.equal((await ask(`?${signed}`, { headers: { 'content-type': 'application/xml' } })).status, 415);
    assert.equal((await ask(`?${signed}`, { body: 'x'.repeat(70_000) })).status, 413);
    assert.equal((await ask(`?${signed}`, { body: '{"kids":["%%%"]}' })).status, 400);
  });

  for (const c of [
    { name: 'Shaka plays DASH cenc with a ClearKey licence from openvod', player: 'shaka', manifest: 'cenc/manifest.mpd' },
    { name: 'Shaka plays DASH cbcs with a ClearKey licence from openvod', player: 'shaka', manifest: 'cbcs/manifest.mpd' },
    { name: 'dash.js plays DASH cenc with a ClearKey licence from openvod', player: 'dash', manifest: 'cenc/manifest.mpd' },
    { name: 'dash.js plays DASH cbcs with a ClearKey licence from openvod', player: 'dash', manifest: 'cbcs/manifest.mpd' },
    { name: 'hls.js plays HLS AES-128 with the key from openvod', player: 'hls', manifest: 'aes128/master.m3u8', licence: false },
  ]) {
    it(c.name, { timeout: PLAY_TIMEOUT_MS + 30_000 }, async (t) => {
      if (setupError) throw setupError;
      await play(t, c);
    });
  }

  for (const c of [
    { name: 'packaged on request: Shaka plays DASH cenc', player: 'shaka', manifest: 'cenc/manifest.mpd' },
    { name: 'packaged on request: Shaka plays DASH cbcs', player: 'shaka', manifest: 'cbcs/manifest.mpd' },
    { name: 'packaged on request: dash.js plays DASH cenc', player: 'dash', manifest: 'cenc/manifest.mpd' },
    { name: 'packaged on request: dash.js plays clear DASH', player: 'dash', manifest: 'manifest.mpd', licence: false },
    { name: 'packaged on request: hls.js plays clear HLS', player: 'hls', manifest: 'master.m3u8', licence: false },
    { name: 'packaged on request: hls.js plays HLS AES-128', player: 'hls', manifest: 'aes128/master.m3u8', licence: false },
  ]) {
    it(c.name, { timeout: PLAY_TIMEOUT_MS + 30_000 }, async (t) => {
      if (setupError) throw setupError;
      await play(t, { ...c, id: jit });
    });
  }

  // Every copy also plays at a segment length the template did not choose (`sN/`): the
  // manifests, segments and AES-128 key URIs all resolve below that folder.
  for (const seconds of [4, 6]) {
    for (const c of [
      { name: 'hls.js plays clear HLS', player: 'hls', manifest: 'master.m3u8', licence: false },
      { name: 'dash.js plays clear DASH', player: 'dash', manifest: 'manifest.mpd', licence: false },
      { name: 'Shaka plays DASH cenc', player: 'shaka', manifest: 'cenc/manifest.mpd' },
      { name: 'Shaka plays DASH cbcs', player: 'shaka', manifest: 'cbcs/manifest.mpd' },
      { name: 'hls.js plays HLS AES-128', player: 'hls', manifest: 'aes128/master.m3u8', licence: false },
    ]) {
      const manifest = c.manifest.includes('/')
        ? c.manifest.replace('/', `/s${seconds}/`)
        : `s${seconds}/${c.manifest}`;
      it(`packaged on request at ${seconds} s segments: ${c.name}`, { timeout: PLAY_TIMEOUT_MS + 30_000 }, async (t) => {
        if (setupError) throw setupError;
        await play(t, { ...c, manifest, id: jit });
      });
    }
  }

  for (const c of [
    { name: 'Shaka refuses to play cenc with a wrong key', player: 'shaka', manifest: 'cenc/manifest.mpd', wrong: 'clearkeys' },
    { name: 'Shaka refuses to play cbcs with a wrong key', player: 'shaka', manifest: 'cbcs/manifest.mpd', wrong: 'clearkeys' },
    { name: 'dash.js refuses to play cenc with a wrong key', player: 'dash', manifest: 'cenc/manifest.mpd', wrong: 'clearkeys' },
    { name: 'dash.js refuses to play cbcs with a wrong key', player: 'dash', manifest: 'cbcs/manifest.mpd', wrong: 'clearkeys' },
    { name: 'hls.js refuses to play AES-128 with a wrong key', player: 'hls', manifest: 'aes128/master.m3u8', wrong: 'aeskey' },
  ]) {
    it(c.name, { timeout: 60_000 }, async (t) => {
      if (setupError) throw setupError;
      const mpd = await (await fetch(`${base}/play/${asset.id}/cenc/manifest.mpd?${signed}`)).text();
      const kids = [...new Set([...mpd.matchAll(/cenc:default_KID="([0-9a-f-]+)"/g)].map((m) => m[1].replaceAll('-', '')))];
      const wrong = '00112233445566778899aabbccddeeff';
      const extra = c.wrong === 'aeskey'
        ? `&aeskey=${wrong}`
        : `&clearkeys=${kids.map((k) => `${k}:${wrong}`).join(',')}`;
      const { played } = await play(t, { ...c, licence: false, extra, expectPlay: false });
      assert.ok(!played, 'played with a wrong key');
    });
  }

  it('refuses to play without a signature', { timeout: 60_000 }, async (t) => {
    if (setupError) throw setupError;
    const saved = signed;
    signed = 'x=1';
    try {
      const { played, state } = await play(t, { player: 'shaka', manifest: 'cenc/manifest.mpd', expectPlay: false });
      assert.ok(!played && state.errors.length > 0, 'played without a signature');
    } finally {
      signed = saved;
    }
  });
});
