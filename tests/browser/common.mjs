// Shared by the browser suites: how Chromium is started here, running commands with a
// deadline, and finding the openvod binary.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const ARTIFACTS = path.join(HERE, 'artifacts');
const env = process.env;

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];


// Run a command; resolve {stdout, stderr}, reject with the output tail on failure or timeout.
export function run(cmd, args, { timeoutMs, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL'); // its process group: ffmpeg children too
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs ?? 120_000);
    const tail = (s) => s.split('\n').slice(-40).join('\n');
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && !timedOut) return resolve({ stdout, stderr });
      const why = timedOut ? `timed out after ${timeoutMs} ms` : `exited with ${code ?? signal}`;
      reject(new Error(`${cmd} ${args.join(' ')}\n${why}\n--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${tail(stderr)}`));
    });
  });
}

export function findOpenvod() {
  if (env.OPENVOD_BIN) {
    if (!fs.existsSync(env.OPENVOD_BIN)) throw new Error(`OPENVOD_BIN=${env.OPENVOD_BIN} does not exist`);
    return env.OPENVOD_BIN;
  }
  const target = env.CARGO_TARGET_DIR ? path.resolve(REPO, env.CARGO_TARGET_DIR) : path.join(REPO, 'target');
  const tried = ['debug', 'release'].map((p) => path.join(target, p, 'openvod'));
  const found = tried
    .filter((f) => fs.existsSync(f))
    .map((f) => ({ f, mtime: fs.statSync(f).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime); // the most recently built one
  if (found.length === 0) {
    throw new Error(
      `openvod binary not found (tried ${tried.join(', ')}).\n` +
        'Build it first (cargo build), or set OPENVOD_BIN=/path/to/openvod, ' +
        'or set OPENVOD_TEST_OUTPUT_DIR=/path/to/output to play an existing output folder.',
    );
  }
  return found[0].f;
}

export function slug(s) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

// A 640x360 H.264 and AAC test source of `seconds`, made with ffmpeg.
export async function makeSource(file, seconds) {
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', file,
  ], { timeoutMs: 60_000 });
}

// `openvod serve` over a data folder in `tmp`, whose default template is the built-in one
// at x264's `ultrafast` preset, with `extra` TOML (whole sections) after it; resolves
// { child, base } once it listens on `listen`.
export async function startFastServe(tmp, extra = '', listen = '127.0.0.1:0') {
  const template = fs.readFileSync(path.join(REPO, 'crates/transcode/templates/default.toml'), 'utf8')
    .replace('preset = "medium"', 'preset = "ultrafast"');
  if (!template.includes('preset = "ultrafast"')) throw new Error('the default template names no medium preset');
  fs.writeFileSync(path.join(tmp, 'fast.toml'), template);
  const config = path.join(tmp, 'openvod.toml');
  fs.writeFileSync(config, `data_dir = "${path.join(tmp, 'data')}"\n[templates]\ndefault = "${path.join(tmp, 'fast.toml')}"\n${extra}`);
  return startServe(config, listen);
}

// Headless Chromium (CHROMIUM_BIN, or Debian's).
export function launchChromium(chromium) {
  return chromium.launch({ executablePath: env.CHROMIUM_BIN ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

// `openvod serve --config CONFIG --listen LISTEN`; resolves { child, base } once it listens.
export async function startServe(config, listen = '127.0.0.1:0') {
  const child = spawn(findOpenvod(), ['serve', '--config', config, '--listen', listen], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...env, OPENVOD_LOG: 'warn' },
  });
  const base = await withTimeout(new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`openvod serve exited with ${code}`)));
  }), 30_000, 'openvod serve');
  return { child, base };
}

// Uploads `file` as `name` and waits until the asset is ready; resolves the asset.
export async function uploadReady(base, file, name) {
  const created = await fetch(`${base}/v1/assets?name=${name}`, { method: 'POST', body: fs.readFileSync(file) });
  if (created.status !== 201) throw new Error(`upload of ${name}: ${created.status} ${await created.text()}`);
  const { id } = await created.json();
  const deadline = Date.now() + 180_000;
  for (;;) {
    const a = await (await fetch(`${base}/v1/assets/${id}`)).json();
    if (a.status === 'ready') return a;
    if (!['queued', 'processing', 'playable'].includes(a.status) || Date.now() > deadline) {
      throw new Error(`asset ${id} did not become ready: ${JSON.stringify(a)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}
