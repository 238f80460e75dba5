// A catalogue's media in real players: `openvod transcode` of a source with English
// (440 Hz, the default stream) and Spanish (880 Hz) audio and a French MP4 timed-text
// stream, with a Spanish WebVTT sidecar and English SubRip captions. In Chromium, hls.js
// and Shaka (from the multivariant playlist and the MPD) and dash.js:
// - list both audio languages, start with English, and switch to Spanish on request;
//   what is decoded, not only the label, tells: the page measures the loudest frequency
//   of the sound that plays;
// - list the three text tracks (hls.js and Shaka), and show each chosen track's cues
//   with their text, at their times (within 100 ms of the frame they belong to).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';
import { ARTIFACTS, CHROMIUM_ARGS, findOpenvod, run, slug } from './common.mjs';

const env = process.env;
const SECONDS = 24;
const TIMEOUT_MS = Number(env.OPENVOD_PLAY_TIMEOUT_MS ?? 40_000);
const TONES = { en: 440, es: 880 };
// The cues of each text track: [start s, end s, text]; the last of each is late in the
// title, so that a player that plays from the start must reach it.
const TEXTS = {
  fr: [[2, 3, 'Bonjour'], [9, 10.5, 'Au revoir']],
  es: [[4, 5.5, 'Hola'], [11, 12, 'Adiós']],
  en: [[3, 4, '[door slams]'], [10, 11, '[music]']],
};
const NAMES = { fr: 'French', es: 'Spanish', en: 'English (CC)' };

const clock = (s, sep) => {
  const ms = Math.round(s * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${sep}${pad(ms % 1000, 3)}`;
};
const srt = (cues) => cues.map(([a, b, t], i) => `${i + 1}\n${clock(a, ',')} --> ${clock(b, ',')}\n${t}\n`).join('\n');

describe('audio in every language, in Chromium', () => {
  let tmp;
  let server;
  let browser;
  let setupError = null;

  async function setup() {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openvod-catalogue-'));
    const src = path.join(tmp, 'languages.mp4');
    const embedded = path.join(tmp, 'embedded.srt');
    fs.writeFileSync(embedded, srt(TEXTS.fr));
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25:duration=${SECONDS}`,
      '-f', 'lavfi', '-i', `sine=frequency=${TONES.en}:sample_rate=48000:duration=${SECONDS}`,
      '-f', 'lavfi', '-i', `sine=frequency=${TONES.es}:sample_rate=48000:duration=${SECONDS}`,
      '-i', embedded,
      '-map', '0:v', '-map', '1:a', '-map', '2:a', '-map', '3:s',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-c:s', 'mov_text',
      '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=spa', '-metadata:s:s:0', 'language=fra',
      '-disposition:a:0', 'default', '-disposition:a:1', '0', src,
    ], { timeoutMs: 60_000 });
    const vtt = path.join(tmp, 'spanish.vtt');
    fs.writeFileSync(vtt, 'WEBVTT\n\n' + TEXTS.es.map(([a, b, t]) => `${clock(a, '.')} --> ${clock(b, '.')}\n${t}\n`).join('\n'));
    const captions = path.join(tmp, 'english.srt');
    fs.writeFileSync(captions, srt(TEXTS.en));
    const template = path.join(tmp, 'audio.toml');
    fs.writeFileSync(template, `name = "audio"
[video]
preset = "superfast"
[[video.rungs]]
name = "360p"
height = 360
max_bitrate = 900_000
[audio]
`);
    const out = path.join(tmp, 'out');
    await run(findOpenvod(), [
      'transcode', src, '--out', out, '--template', template,
      '--subtitles', `es=${vtt}`, '--captions', `en=${captions}`,
    ], { timeoutMs: 300_000 });
    server = await startServer({ mediaDir: out });
    browser = await chromium.launch({ executablePath: env.CHROMIUM_BIN ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  }

  before(async () => {
    try {
      await setup();
    } catch (e) {
      setupError = e;
      console.error(`setup failed: ${e.message}`);
    }
  }, { timeout: 400_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (server) await server.close().catch(() => {});
    if (tmp && !env.OPENVOD_TEST_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // In the page: the audio tracks the player lists, as {language, name}.
  const LIST = {
    hls: () => window.__player.audioTracks.map((t) => ({ language: t.lang, name: t.name })),
    shaka: () => window.__player.getAudioTracks().map((t) => ({ language: t.language, name: t.label })),
    dash: () => window.__player.getTracksFor('audio').map((t) => ({ language: t.lang, name: t.labels?.[0]?.text ?? '' })),
  };
  // In the page: switch to `language`.
  const SWITCH = {
    hls: (language) => { window.__player.audioTrack = window.__player.audioTracks.findIndex((t) => t.lang === language); },
    shaka: (language) => { window.__player.selectAudioTrack(window.__player.getAudioTracks().find((t) => t.language === language)); },
    dash: (language) => { window.__player.setCurrentTrack(window.__player.getTracksFor('audio').find((t) => t.lang === language)); },
  };

  // Waits until the loudest frequency of what plays is `language`'s tone (within 3 %)
  // for a second on end; returns what was heard last.
  async function hear(page, language) {
    const want = TONES[language];
    const heard = await page.waitForFunction((want) => {
      if ((window.__errors?.length ?? 0) > 0) return { errors: window.__errors };
      const now = window.__tone();
      const ok = Math.abs(now.hz - want) < want * 0.03 && now.db > -60 && !window.__video.paused;
      window.__heardSince = ok ? (window.__heardSince ?? performance.now()) : undefined;
      return ok && performance.now() - window.__heardSince > 1000 ? now : false;
    }, want, { timeout: TIMEOUT_MS / 2, polling: 100 }).then((h) => h.jsonValue()).catch(async () => ({
      timeout: true, tone: await page.evaluate(() => window.__tone()),
    }));
    return heard;
  }

  // Opens `c.manifest` in `c.player`, waits until it plays past `from` seconds, runs
  // `body(page, steps)`, and checks no player error came; a failure leaves the steps, the
  // page's state and its console in ARTIFACTS/NAME.json.
  async function playing(t, c, { listen = false, from, name }, body) {
    const src = encodeURIComponent(`${server.url}/media/${c.manifest}`);
    const url = `${server.url}/?player=${c.player}&src=${src}${listen ? '&listen=1' : ''}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    const steps = {};
    try {
      await page.goto(url, { timeout: 15_000 });
      await page.waitForFunction(
        (from) => (window.__errors?.length ?? 0) > 0 || (window.__video?.currentTime ?? 0) > from,
        from,
        { timeout: TIMEOUT_MS, polling: 200 },
      );
      await body(page, steps);
      const state = await page.evaluate(() => window.__state());
      assert.deepEqual(state.errors, [], 'no player error');
      t.diagnostic(`${c.label} ${c.manifest}: ${JSON.stringify(steps)} at t=${state.currentTime.toFixed(2)}`);
    } catch (e) {
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      const out = path.join(ARTIFACTS, slug(`${name}-${c.player}-${c.manifest}`));
      const state = await page.evaluate(() => window.__state?.()).catch(() => null);
      fs.writeFileSync(`${out}.json`, JSON.stringify({ url, steps, state, console: consoleLines }, null, 2));
      throw e;
    } finally {
      await context.close().catch(() => {});
    }
  }

  for (const c of [
    { player: 'hls', manifest: 'master.m3u8', label: 'hls.js' },
    { player: 'shaka', manifest: 'master.m3u8', label: 'Shaka' },
    { player: 'shaka', manifest: 'manifest.mpd', label: 'Shaka' },
    { player: 'dash', manifest: 'manifest.mpd', label: 'dash.js' },
  ]) {
    it(`${c.label} lists both languages of ${c.manifest}, starts in English and switches to Spanish by what it decodes`, { timeout: TIMEOUT_MS * 2 }, async (t) => {
      if (setupError) throw setupError;
      await playing(t, c, { listen: true, from: 1, name: 'audio' }, async (page, steps) => {
        steps.tracks = await page.evaluate(LIST[c.player]);
        const languages = steps.tracks.map((x) => x.language).sort();
        assert.deepEqual(languages, ['en', 'es'], `tracks: ${JSON.stringify(steps.tracks)}`);
        if (c.player !== 'dash') {
          const names = steps.tracks.map((x) => x.name).sort();
          assert.deepEqual(names, ['English', 'Spanish'], `names: ${JSON.stringify(steps.tracks)}`);
        }
        steps.first = await hear(page, 'en');
        assert.ok(!steps.first.timeout && !steps.first.errors, `English (${TONES.en} Hz) first: heard ${JSON.stringify(steps.first)}`);
        await page.evaluate(SWITCH[c.player], 'es');
        steps.switched = await hear(page, 'es');
        assert.ok(!steps.switched.timeout && !steps.switched.errors, `Spanish (${TONES.es} Hz) after the switch: heard ${JSON.stringify(steps.switched)}`);
      });
    });
  }

  // In the page: the text tracks the player lists, as {language, name}.
  const TEXT_LIST = {
    hls: () => window.__player.subtitleTracks.map((t) => ({ language: t.lang, name: t.name })),
    shaka: () => window.__player.getTextTracks().map((t) => ({ language: t.language, name: t.label })),
  };
  // In the page: show the text track of `language`.
  const TEXT_SWITCH = {
    hls: (language) => {
      window.__player.subtitleDisplay = true;
      window.__player.subtitleTrack = window.__player.subtitleTracks.findIndex((t) => t.lang === language);
    },
    shaka: (language) => {
      window.__player.selectTextTrack(window.__player.getTextTracks().find((t) => t.language === language));
    },
  };

  for (const c of [
    { player: 'hls', manifest: 'master.m3u8', label: 'hls.js' },
    { player: 'shaka', manifest: 'master.m3u8', label: 'Shaka' },
    { player: 'shaka', manifest: 'manifest.mpd', label: 'Shaka' },
  ]) {
    it(`${c.label} lists the text tracks of ${c.manifest} and shows each one's cues at their times`, { timeout: TIMEOUT_MS * 3 }, async (t) => {
      if (setupError) throw setupError;
      await playing(t, c, { from: 0.5, name: 'subtitles' }, async (page, steps) => {
        steps.tracks = await page.evaluate(TEXT_LIST[c.player]);
        assert.deepEqual(steps.tracks.map((x) => x.language).sort(), ['en', 'es', 'fr'], `text tracks: ${JSON.stringify(steps.tracks)}`);
        assert.deepEqual(steps.tracks.map((x) => x.name).sort(), Object.values(NAMES).sort(), `names: ${JSON.stringify(steps.tracks)}`);
        for (const language of ['fr', 'es', 'en']) {
          await page.evaluate(TEXT_SWITCH[c.player], language);
          // From the start again, so that a player that loads text near the playhead
          // loads every cue of the new track.
          await page.evaluate(() => { window.__video.currentTime = 0; });
          // The cues the page's text tracks hold that match this language's texts.
          const wanted = TEXTS[language].map(([, , text]) => text);
          const got = await page.waitForFunction((wanted) => {
            if ((window.__errors?.length ?? 0) > 0) return { errors: window.__errors };
            const v = window.__video;
            const found = [];
            for (const track of v.textTracks) {
              for (const cue of track.cues ?? []) {
                if (wanted.includes(cue.text) && !found.some((f) => f.text === cue.text)) {
                  found.push({ text: cue.text, start: cue.startTime, end: cue.endTime });
                }
              }
            }
            const firstFrame = v.buffered.length ? v.buffered.start(0) : 0;
            return found.length === wanted.length ? { found, firstFrame } : false;
          }, wanted, { timeout: TIMEOUT_MS, polling: 250 }).then((h) => h.jsonValue()).catch(async () => ({
            timeout: true,
            state: await page.evaluate(() => ({ time: window.__video.currentTime, tracks: [...window.__video.textTracks].map((t) => ({ label: t.label, mode: t.mode, cues: [...(t.cues ?? [])].map((c) => [c.startTime, c.text]) })) })),
          }));
          steps[language] = got;
          assert.ok(!got.timeout && !got.errors, `${language} cues: ${JSON.stringify(got)}`);
          for (const [start, end, text] of TEXTS[language]) {
            const cue = got.found.find((f) => f.text === text);
            // The cue belongs with the frame at `start` of the source, which plays at
            // `start` after the first frame.
            assert.ok(Math.abs(cue.start - got.firstFrame - start) <= 0.1, `${text}: starts at ${cue.start} (first frame ${got.firstFrame}), not ${start}`);
            assert.ok(Math.abs(cue.end - got.firstFrame - end) <= 0.1, `${text}: ends at ${cue.end}, not ${end}`);
          }
        }
      });
    });
  }

  // The storyboard made with the encode, as Shaka reads it from the MPD's thumbnail
  // AdaptationSet (DASH-IF IOP 6.2.6): one image track of 160x90 tiles, a thumbnail every
  // 2 s, each at its place in the sprite.
  it('Shaka reports the storyboard\'s thumbnails from the MPD', { timeout: TIMEOUT_MS * 2 }, async (t) => {
    if (setupError) throw setupError;
    const c = { player: 'shaka', manifest: 'manifest.mpd', label: 'Shaka' };
    await playing(t, c, { from: 0.5, name: 'storyboard' }, async (page, steps) => {
      steps.tracks = await page.evaluate(() => window.__player.getImageTracks().map((x) => ({ id: x.id, width: x.width, height: x.height, mimeType: x.mimeType })));
      assert.equal(steps.tracks.length, 1, `image tracks: ${JSON.stringify(steps.tracks)}`);
      steps.thumbnails = await page.evaluate(async (id) => {
        const out = [];
        for (const time of [1, 5, 13, 23]) {
          const th = await window.__player.getThumbnails(id, time);
          out.push({ time, start: th.startTime, duration: th.duration, x: th.positionX, y: th.positionY, width: th.width, height: th.height, uri: th.uris[0] });
        }
        return out;
      }, steps.tracks[0].id);
      const columns = 10;
      for (const th of steps.thumbnails) {
        const k = Math.floor(th.time / 2);
        assert.ok(Math.abs(th.start - k * 2) < 0.01, `thumbnail at ${th.time} s starts at ${th.start}`);
        assert.ok(Math.abs(th.duration - 2) < 0.01, `thumbnail at ${th.time} s lasts ${th.duration}`);
        assert.deepEqual([th.x, th.y, th.width, th.height], [(k % columns) * 160, Math.floor(k / columns) * 90, 160, 90], JSON.stringify(th));
        assert.ok(th.uri.endsWith('/storyboard.jpg'), th.uri);
      }
      const sprite = await page.evaluate(async (uri) => {
        const r = await fetch(uri);
        const img = await createImageBitmap(await r.blob());
        return { status: r.status, type: r.headers.get('content-type'), width: img.width, height: img.height };
      }, steps.thumbnails[0].uri);
      assert.deepEqual(sprite, { status: 200, type: 'image/jpeg', width: 1600, height: 180 });
    });
  });
});
