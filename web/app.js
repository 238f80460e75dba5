// The openvod dashboard: tus uploads, the live asset list, an asset page with a player.
'use strict';

const $ = (sel) => document.querySelector(sel);
// With admin tokens configured, the page asks for one once and keeps it in a same-site
// cookie, which the server accepts like the Authorization header (and which reaches
// EventSource and tus requests without code of their own).
function askToken() {
  const token = window.prompt('This openvod needs an admin token:');
  if (!token) return false;
  document.cookie = `openvod_admin=${encodeURIComponent(token)}; path=/; SameSite=Strict`;
  return true;
}
const api = (path, opts) => fetch(path, opts).then(async (r) => {
  if (r.status === 401 && askToken()) return api(path, opts);
  const body = r.headers.get('content-type')?.includes('json') ? await r.json() : null;
  if (!r.ok) throw new Error(body?.error?.message ?? `HTTP ${r.status}`);
  return body;
});
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const kb = (bits) => (bits ? `${Math.round(bits / 1000)} kb/s` : '');
const mb = (bytes) => (bytes ? `${(bytes / 1e6).toFixed(1)} MB` : '');

// ---- uploads: tus 1.0, resumable across page reloads -------------------------------
const CHUNK = 8 * 1024 * 1024;
const TUS = { 'Tus-Resumable': '1.0.0' };

async function tusUpload(file, onProgress) {
  const key = `openvod-upload:${file.name}:${file.size}:${file.lastModified}`;
  let url = localStorage.getItem(key);
  let offset = 0;
  if (url) {
    const r = await fetch(url, { method: 'HEAD', headers: TUS });
    if (r.ok) offset = Number(r.headers.get('Upload-Offset'));
    else url = null;
  }
  if (!url) {
    const meta = `filename ${btoa(unescape(encodeURIComponent(file.name)))}`;
    const r = await fetch('/v1/uploads', { method: 'POST', headers: { ...TUS, 'Upload-Length': String(file.size), 'Upload-Metadata': meta } });
    if (r.status !== 201) throw new Error((await r.json().catch(() => null))?.error?.message ?? `HTTP ${r.status}`);
    url = r.headers.get('Location');
    localStorage.setItem(key, url);
  }
  let failures = 0;
  while (true) {
    const chunk = file.slice(offset, offset + CHUNK);
    let r;
    try {
      r = await fetch(url, {
        method: 'PATCH',
        headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
        body: chunk,
      });
    } catch (e) {
      r = null;
    }
    if (r && r.status === 204) {
      failures = 0;
      offset = Number(r.headers.get('Upload-Offset'));
      onProgress(offset / file.size);
      const asset = r.headers.get('Openvod-Asset');
      if (asset) {
        localStorage.removeItem(key);
        return asset;
      }
      continue;
    }
    // Interrupted or refused: ask where the server is and go on from there.
    if (++failures > 5) throw new Error(r ? `upload failed: HTTP ${r.status}` : 'upload failed: network error');
    await new Promise((res) => setTimeout(res, 1000 * failures));
    const h = await fetch(url, { method: 'HEAD', headers: TUS }).catch(() => null);
    if (h?.ok) offset = Number(h.headers.get('Upload-Offset'));
  }
}

function startUpload(file) {
  const row = document.createElement('div');
  row.className = 'upload';
  row.innerHTML = `<div>${esc(file.name)} <span class="state">uploading</span></div><progress max="1" value="0"></progress>`;
  $('#uploads').append(row);
  tusUpload(file, (f) => { row.querySelector('progress').value = f; })
    .then((id) => { row.querySelector('.state').textContent = 'uploaded'; refreshAsset(id); setTimeout(() => row.remove(), 4000); })
    .catch((e) => { row.querySelector('.state').textContent = `failed: ${e.message}`; });
}

const drop = $('#drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  [...e.dataTransfer.files].forEach(startUpload);
});
$('#file').addEventListener('change', (e) => { [...e.target.files].forEach(startUpload); e.target.value = ''; });

// ---- the asset list, live ----------------------------------------------------------
const rows = new Map();

function renderRow(a) {
  let tr = rows.get(a.id);
  if (!tr) {
    tr = document.createElement('tr');
    tr.className = 'asset';
    tr.dataset.id = a.id;
    tr.addEventListener('click', () => { location.hash = `#/asset/${a.id}`; });
    rows.set(a.id, tr);
    $('#assets tbody').prepend(tr);
  }
  const warnings = (a.warnings ?? []).map((w) => `<span class="warning" title="${esc(w.code)}">⚠ ${esc(w.message)}</span>`).join(' ');
  const progress = a.status === 'processing' || a.status === 'playable' ? `${a.stage ?? ''} ${Math.round(a.progress)}%` : a.status === 'failed' ? esc(a.error?.message) : warnings;
  const video = (a.renditions ?? []).filter((r) => r.width);
  const top = video.reduce((m, r) => (r.height > (m?.height ?? 0) ? r : m), null);
  const bytes = (a.renditions ?? []).reduce((n, r) => n + (r.bytes ?? 0), 0);
  const duration = a.probe?.duration;
  // The poster, small, once the asset is ready (`v` keeps a changed poster from an old
  // cache entry).
  const poster = a.status === 'ready' && top
    ? `<img class="poster" alt="" loading="lazy" src="/image/${a.id}/poster.jpg?v=${a.finished_at_ms}-${a.poster_time ?? ''}" onerror="this.style.visibility='hidden'">` : '';
  tr.innerHTML = `<td>${poster}</td><td>${esc(a.source?.name ?? a.id)}</td><td class="status ${a.status}">${a.status}</td>` +
    `<td>${duration ? clock(duration) : ''}</td><td>${top ? `${top.width}x${top.height}` : ''}</td><td>${bytes ? mb(bytes) : ''}</td>` +
    `<td>${progress}</td><td>${new Date(a.created_at_ms).toLocaleString()}</td>`;
  if (currentAsset === a.id) renderAsset(a);
}

async function refreshAsset(id) {
  try { renderRow(await api(`/v1/assets/${id}`)); } catch (e) { rows.get(id)?.remove(); rows.delete(id); }
}

async function loadList() {
  const page = await api('/v1/assets?limit=100');
  page.assets.reverse().forEach(renderRow);
}

// Authenticated first (the list asks for a token when one is needed), then the stream.
const events = new EventSource('/v1/events');
for (const kind of ['asset.created', 'asset.progress', 'asset.playable', 'asset.ready', 'asset.failed', 'asset.retrying', 'asset.retried', 'asset.cancelled', 'asset.deleted', 'asset.archived', 'asset.restoring', 'asset.restored']) {
  events.addEventListener(kind, (e) => {
    const data = JSON.parse(e.data);
    if (data.id) refreshAsset(data.id);
  });
}

// ---- the asset page ----------------------------------------------------------------
let currentAsset = null;
let hls = null;
// The player's own reports on its session (web/qoe.js), beside hls.js's CMCD.
let report = null;

// Tears the player down; its session's last report says how it ended.
function stopPlayer() {
  if (report) { report.end(); report = null; }
  if (hls) { hls.destroy(); hls = null; }
}

// A per-title decision: the chosen rungs, and every sample encode with the hull drawn
// through them (score against bit rate on a log scale).
function renderLadder(d) {
  $('#ladder-box').hidden = !d;
  if (!d) return;
  $('#ladder-summary').textContent =
    `${d.rungs.length} rungs in ${d.codec}, top rung at score ${d.top_quality}; ` +
    `${d.samples.length} sample encodes of ${d.excerpts.length} excerpt${d.excerpts.length === 1 ? '' : 's'}, ${d.cpu_seconds.toFixed(1)} s CPU. ` +
    'Dots: the fast sample encodes; line: their hull at the ladder\'s own preset.';
  $('#ladder-rungs tbody').innerHTML = d.rungs.map((r) =>
    `<tr><td>${esc(r.name)}${r.capped ? ' (at the ceiling)' : ''}</td><td>${r.width}x${r.height}</td><td>${r.crf}</td>` +
    `<td>${kb(r.expected_bitrate)}</td><td>${kb(r.max_bitrate)}</td><td>${r.score.toFixed(1)}</td></tr>`).join('');
  const rates = d.samples.concat(d.hull).map((p) => Math.log(p.bitrate));
  const lo = Math.min(...rates), hi = Math.max(...rates) + 1e-9;
  const x = (b) => 40 + (Math.log(b) - lo) / (hi - lo) * 420;
  // Scores from the lowest sample's tens up to 100.
  const floor = Math.min(90, Math.floor(Math.min(...d.samples.map((p) => p.score)) / 10) * 10);
  const y = (s) => 220 - Math.max(0, s - floor) / (100 - floor) * 200;
  const dots = d.samples.map((p) =>
    `<circle cx="${x(p.bitrate).toFixed(1)}" cy="${y(p.score).toFixed(1)}" r="3" class="sample"><title>${p.width}x${p.height} crf ${p.crf}: ${kb(p.bitrate)}, ${p.score.toFixed(1)}</title></circle>`).join('');
  const hull = d.hull.map((p) => `${x(p.bitrate).toFixed(1)},${y(p.score).toFixed(1)}`).join(' ');
  const chosen = d.rungs.map((r) =>
    `<circle cx="${x(r.expected_bitrate).toFixed(1)}" cy="${y(r.score).toFixed(1)}" r="5" class="rung"><title>${esc(r.name)}</title></circle>`).join('');
  $('#ladder-plot').innerHTML =
    `<line x1="40" y1="220" x2="460" y2="220" class="axis"/><line x1="40" y1="20" x2="40" y2="220" class="axis"/>` +
    `<text x="44" y="16">score (${floor}-100)</text><text x="380" y="236">bit rate (log)</text>` +
    `<polyline points="${hull}" class="hull"/>${dots}${chosen}`;
}

// ---- viewers' quality of experience: CMCD and player reports, per asset --------------
// One line chart of `value` over the series' points, on a shared time axis.
function qoePlot(svg, points, value, label, format) {
  const shown = points.filter((p) => value(p) != null);
  if (shown.length === 0) { svg.innerHTML = `<text x="44" y="16">${esc(label)}: no data yet</text>`; return; }
  const t0 = Math.min(...points.map((p) => p.start_ms)), t1 = Math.max(...points.map((p) => p.start_ms)) + 1;
  const top = Math.max(...shown.map(value)) || 1;
  const x = (t) => 40 + (t - t0) / (t1 - t0) * 420;
  const y = (v) => 120 - v / top * 100;
  const line = shown.map((p) => `${x(p.start_ms).toFixed(1)},${y(value(p)).toFixed(1)}`).join(' ');
  const dots = shown.map((p) =>
    `<circle cx="${x(p.start_ms).toFixed(1)}" cy="${y(value(p)).toFixed(1)}" r="3"><title>${new Date(p.start_ms).toLocaleString()}: ${format(value(p))} (${p.sessions} sessions)</title></circle>`).join('');
  svg.innerHTML = `<line x1="40" y1="120" x2="460" y2="120" class="axis"/><line x1="40" y1="20" x2="40" y2="120" class="axis"/>` +
    `<text x="44" y="16">${esc(label)} (up to ${format(top)})</text><polyline points="${line}" class="line"/>${dots}`;
}

async function renderQoe(id) {
  let q;
  try { q = await api(`/v1/assets/${id}/qoe`); } catch (e) { return; }
  if (id !== currentAsset) return;
  const s = q.summary;
  const ms = (v) => (v == null ? '—' : `${(v / 1000).toFixed(2)} s`);
  const pct = (v) => (v == null ? '—' : `${(v * 100).toFixed(1)} %`);
  $('#qoe-box').hidden = false;
  $('#qoe-summary').textContent = s.sessions === 0
    ? 'No viewing sessions in the last week yet.'
    : `${s.sessions} session${s.sessions === 1 ? '' : 's'} in the last week: ${s.started} started, ${s.never_started} never started, ` +
      `${s.starting} starting, ${s.unconfirmed} unconfirmed.`;
  const row = (what, v) => `<tr><td>${what}</td><td>${v}</td></tr>`;
  $('#qoe tbody').innerHTML =
    row('Startup (median, 90th percentile)', s.startup_ms ? `${ms(s.startup_ms.p50)}, ${ms(s.startup_ms.p90)}` : '—') +
    row('Rebuffering', `${s.rebuffers} stall${s.rebuffers === 1 ? '' : 's'} in ${s.sessions_with_rebuffers} session${s.sessions_with_rebuffers === 1 ? '' : 's'}; ratio ${pct(s.rebuffer_ratio)}`) +
    row('Bit rate played', s.bitrate_kbps == null ? '—' : kb(s.bitrate_kbps * 1000)) +
    row('Measured throughput (median)', s.throughput_kbps == null ? '—' : kb(s.throughput_kbps * 1000)) +
    row('Buffer ahead (median)', ms(s.buffer_ms)) +
    row('Errors', `${s.origin_errors} from the origin, ${s.player_errors} in players`);
  $('#qoe-sessions tbody').innerHTML = q.sessions.map((v) =>
    `<tr data-session="${esc(v.session)}"><td>${new Date(v.first_ms).toLocaleString()}</td><td>${esc(v.outcome)}</td><td>${ms(v.startup_ms)}</td>` +
    `<td>${v.rebuffers}</td><td>${v.bitrate_kbps == null ? '—' : kb(v.bitrate_kbps * 1000)}</td><td>${v.origin_errors + v.player_errors}</td></tr>`).join('');
  qoePlot($('#qoe-startup'), q.series, (p) => p.startup_ms?.p50, 'startup, median', ms);
  qoePlot($('#qoe-rebuffer'), q.series, (p) => (p.sessions ? p.rebuffers / p.sessions : null), 'stalls per session', (v) => v.toFixed(2));
  qoePlot($('#qoe-bitrate'), q.series, (p) => (p.bitrate_kbps == null ? null : p.bitrate_kbps * 1000), 'bit rate played', kb);
}

$('#qoe-refresh').addEventListener('click', () => { if (currentAsset) renderQoe(currentAsset); });

// What the asset used and cost: at the configured rates, and on AWS at the price book's.
function renderCost(a) {
  $('#cost-box').hidden = !a.cost;
  if (!a.cost) return;
  const u = a.usage, o = a.cost.openvod, w = a.cost.aws;
  const usd = (v) => `$${v < 0.01 && v > 0 ? v.toFixed(5) : v.toFixed(2)}`;
  const cpu = u.analysis_cpu_seconds + u.encode_cpu_seconds + u.package_cpu_seconds;
  $('#cost-summary').textContent =
    `${cpu.toFixed(1)} CPU seconds (analysis ${u.analysis_cpu_seconds.toFixed(1)}, encode ${u.encode_cpu_seconds.toFixed(1)}, ` +
    `packaging ${u.package_cpu_seconds.toFixed(1)}); ${mb(u.source_bytes)} source and ${mb(u.output_bytes)} output kept; ` +
    `${mb(u.served_bytes) || '0 MB'} served in ${u.served_requests} requests (${u.shield_hits} from the shield). AWS: ${w.price_book}.`;
  const row = (what, mine, theirs) => `<tr><td>${what}</td><td>${mine}</td><td>${theirs}</td></tr>`;
  $('#cost tbody').innerHTML =
    row('Transcode', usd(o.compute_usd), `${usd(w.mediaconvert.usd)} (MediaConvert: ${w.mediaconvert.rungs.map((r) => `${esc(r.rung)} ${esc(r.tier)}`).join(', ')})`) +
    row('Storage, per month', usd(o.storage_usd_per_month), `${usd(w.s3_usd_per_month)} (S3)`) +
    row('Delivery so far', usd(o.egress_usd), `${usd(w.cloudfront_usd)} (CloudFront)`) +
    row('<strong>Total</strong>', `<strong>${usd(o.usd)}</strong>`, `<strong>${usd(w.usd)}</strong>`);
}

const WARNING_TITLES = {
  damaged_source: 'Damaged source',
  overstated_duration: 'Source duration',
  stream_not_carried: 'Stream left out',
  cues_past_end: 'Subtitles',
  images_not_made: 'No pictures',
};

// An audio rendition as the table shows it: "audio, es, 6 channels".
function audioOf(r) {
  return [r.kind, r.language, r.channels ? `${r.channels} channels` : null].filter(Boolean).map(esc).join(', ');
}

// m:ss or h:mm:ss.
function clock(s) {
  const t = Math.max(0, Math.floor(s));
  const mm = String(Math.floor(t / 60) % 60).padStart(2, '0');
  const ss = String(t % 60).padStart(2, '0');
  return t >= 3600 ? `${Math.floor(t / 3600)}:${mm}:${ss}` : `${Math.floor(t / 60)}:${ss}`;
}

// ---- storyboard previews on the seek bar -------------------------------------------
// The storyboard's cues: [start, end, sprite URL, x, y, w, h], from storyboard.vtt.
let storyboard = [];

async function loadStoryboard(id) {
  storyboard = [];
  const r = await fetch(`/play/${id}/storyboard.vtt`).catch(() => null);
  if (!r || !r.ok) return;
  const text = await r.text();
  const seconds = (t) => t.split(':').reduce((acc, p) => acc * 60 + Number(p), 0);
  for (const block of text.split(/\n\n+/)) {
    const [timing, target] = block.split('\n');
    const m = /^(\S+) --> (\S+)/.exec(timing ?? '');
    const f = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(target ?? '');
    if (m && f) {
      const url = new URL(f[1], r.url).href;
      storyboard.push([seconds(m[1]), seconds(m[2]), url, ...f.slice(2).map(Number)]);
    }
  }
  $('#scrub').hidden = storyboard.length === 0;
}

function showPreview(event) {
  const video = $('#player');
  const seek = $('#seek');
  const box = seek.getBoundingClientRect();
  const share = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
  const time = share * (video.duration || 0);
  const cue = storyboard.find(([a, b]) => time >= a && time < b) ?? storyboard[storyboard.length - 1];
  if (!cue) return;
  const [, , url, x, y, w, h] = cue;
  const image = $('#preview-image');
  Object.assign(image.style, { width: `${w}px`, height: `${h}px`, backgroundImage: `url("${url}")`, backgroundPosition: `-${x}px -${y}px` });
  $('#preview-time').textContent = clock(time);
  const preview = $('#preview');
  preview.style.left = `${share * box.width}px`;
  preview.hidden = false;
}

$('#seek').addEventListener('mousemove', showPreview);
$('#seek').addEventListener('mouseleave', () => { $('#preview').hidden = true; });
$('#seek').addEventListener('input', (e) => {
  const video = $('#player');
  if (video.duration) video.currentTime = Number(e.target.value) * video.duration;
});
$('#player').addEventListener('timeupdate', (e) => {
  const v = e.target;
  if (v.duration) $('#seek').value = String(v.currentTime / v.duration);
});
$('#set-poster').addEventListener('click', async () => {
  if (!currentAsset) return;
  const a = await api(`/v1/assets/${currentAsset}/poster`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ time: Math.round($('#player').currentTime * 1000) / 1000 }),
  });
  $('#player').poster = `/image/${a.id}/poster.jpg?v=${a.finished_at_ms}-${a.poster_time ?? ''}`;
  renderRow(a);
});

// Storage tiers: where the asset's objects are, and a button to move them.
const STORAGE_TITLES = {
  hot: 'hot',
  archiving: 'moving to cold storage (still playing)',
  cold: 'cold: restore it to play (a viewer\'s request restores it too)',
  restoring: 'restoring from cold storage…',
};
function renderStorage(a) {
  const ready = a.status === 'ready';
  $('#asset-storage').hidden = !ready;
  $('#storage-state').textContent = STORAGE_TITLES[a.storage] ?? a.storage;
  $('#storage-state').className = `storage ${a.storage}`;
  $('#archive').hidden = !ready || a.storage !== 'hot';
  $('#restore').hidden = !ready || a.storage !== 'cold';
}
for (const [button, action] of [['#archive', 'archive'], ['#restore', 'restore']]) {
  $(button).addEventListener('click', async () => {
    if (!currentAsset) return;
    await api(`/v1/assets/${currentAsset}/${action}`, { method: 'POST' });
    refreshAsset(currentAsset);
  });
}

function renderAsset(a) {
  $('#asset-title').textContent = a.source?.name ?? a.id;
  // A chunked encode: how many of its parts (the audio, then each chunk) are done.
  const parts = (a.tasks ?? []).filter((t) => t.stage === 'encode');
  const partsDone = parts.length ? ` (${parts.filter((t) => t.status === 'succeeded').length} of ${parts.length} parts)` : '';
  // A playable asset plays its preview while the ladder encodes.
  const status = a.status === 'processing' || a.status === 'playable'
    ? `${a.status === 'playable' ? `playable (preview: ${Math.round(a.preview_seconds ?? 0)} s)` : 'processing'}: ${a.stage} ${Math.round(a.progress)}%${a.stage === 'encode' ? partsDone : ''}`
    : a.status;
  $('#asset-status').innerHTML = `<span class="status ${a.status}">${esc(status)}</span>${a.error ? ` — ${esc(a.error.message)}` : ''}`;
  $('#asset-warnings').innerHTML = (a.warnings ?? []).map((w) =>
    `<li class="warning" data-code="${esc(w.code)}">${WARNING_TITLES[w.code] ?? 'Warning'}: ${esc(w.message)}</li>`).join('');
  const tbody = $('#renditions tbody');
  tbody.innerHTML = (a.renditions ?? []).map((r) =>
    `<tr><td>${esc(r.name)}</td><td>${r.width ? `${r.width}x${r.height}` : audioOf(r)}</td><td>${esc(r.codecs)}</td>` +
    `<td>${kb(r.bitrate)}</td><td>${kb(r.peak_bitrate)}</td><td>${mb(r.bytes)}</td></tr>`).join('');
  renderLadder(a.ladder);
  renderCost(a);
  const downloads = a.downloads ?? [];
  $('#downloads').innerHTML = downloads.map((d) =>
    `<li><a href="${esc(d.url)}" download>${esc(d.file)}</a> — ${d.kind === 'video' ? `${d.width}x${d.height} with audio` : 'audio only'}, ${mb(d.bytes)}</li>`).join('');
  $('#downloads-box').hidden = downloads.length === 0;
  renderTracks(a);
  renderStorage(a);
  renderClip(a);
  if ((a.status !== 'ready' && a.status !== 'playable') || !a.playback) return;
  // A cold asset plays once it is restored: its objects answer 202 until then.
  if (a.storage === 'cold' || a.storage === 'restoring') {
    stopPlayer();
    $('#player-box').hidden = true;
    return;
  }
  const origin = location.origin;
  const hlsUrl = origin + a.playback.hls;
  const dashUrl = a.playback.dash ? origin + a.playback.dash : null;
  $('#urls').innerHTML = `<dt>HLS</dt><dd>${esc(hlsUrl)}</dd>` +
    (dashUrl ? `<dt>DASH</dt><dd>${esc(dashUrl)}</dd>` : '<dt>DASH</dt><dd>when ready (the preview is HLS)</dd>');
  // The embed sends CMCD (hls.js) and the player's reports, like the dashboard's player.
  $('#embed').value = `<video id="openvod-${a.id}" controls playsinline style="width:100%"></video>\n` +
    `<script src="${origin}/ui/hls.js"></script>\n<script src="${origin}/ui/qoe.js"></script>\n<script>\n(function () {\n  var v = document.getElementById('openvod-${a.id}');\n` +
    `  if (v.canPlayType('application/vnd.apple.mpegurl')) { v.src = '${hlsUrl}'; return; }\n` +
    `  var h = new Hls({ cmcd: { contentId: '${a.id}' } });\n` +
    `  var r = openvodQoe(v, { asset: '${a.id}', session: h.sessionId, endpoint: '${origin}/v1/qoe' });\n` +
    `  h.on(Hls.Events.ERROR, function (_, d) { if (d.fatal) r.error(); });\n` +
    `  h.loadSource('${hlsUrl}'); h.attachMedia(v);\n})();\n</script>`;
  renderQoe(a.id);
  $('#player-box').hidden = false;
  if (hls || $('#player').src) return;
  const video = $('#player');
  if (a.status === 'ready') {
    video.poster = `/image/${a.id}/poster.jpg?v=${a.finished_at_ms}-${a.poster_time ?? ''}`;
    loadStoryboard(a.id);
  }
  if (window.Hls && Hls.isSupported()) {
    // Playlists are revalidated (they may be cached for 30 s): a track added or removed
    // here shows as soon as the player loads them again.
    hls = new Hls({
      xhrSetup: (xhr, url) => { if (/\.m3u8(\?|$)/.test(url)) xhr.setRequestHeader('Cache-Control', 'no-cache'); },
      cmcd: { contentId: a.id },
    });
    report = window.openvodQoe ? openvodQoe(video, { asset: a.id, session: hls.sessionId, endpoint: `${origin}/v1/qoe` }) : null;
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      const select = $('#quality');
      select.innerHTML = '<option value="-1">Auto</option>' +
        hls.levels.map((l, i) => `<option value="${i}">${l.height}p (${kb(l.bitrate)})</option>`).join('');
      video.play().catch(() => {});
    });
    hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, (_, d) => {
      const select = $('#audio-track');
      select.innerHTML = d.audioTracks.map((t, i) => `<option value="${i}">${esc(t.name)}</option>`).join('');
      select.value = String(hls.audioTrack);
      $('#audio-box').hidden = d.audioTracks.length < 2;
    });
    hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, (_, d) => { $('#audio-track').value = String(d.id); });
    hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, (_, d) => {
      $('#subtitle-track').innerHTML = '<option value="-1">Off</option>' +
        d.subtitleTracks.map((t, i) => `<option value="${i}">${esc(t.name)}</option>`).join('');
      $('#subtitle-track').value = String(hls.subtitleTrack);
      $('#subtitle-box').hidden = d.subtitleTracks.length === 0;
    });
    hls.on(Hls.Events.ERROR, (_, d) => {
      if (!d.fatal) return;
      window.__playerError = `${d.type}: ${d.details}`;
      report?.error();
    });
    hls.loadSource(hlsUrl);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = hlsUrl;
  } else {
    $('#player-missing').hidden = false;
    video.hidden = true;
  }
}

// Subtitle and caption tracks: listed with a remove button, and added from a file, on a
// ready asset packaged on request (the server says why another takes none).
const TEXT_KINDS = ['subtitles', 'captions'];
function renderTracks(a) {
  const texts = (a.renditions ?? []).filter((r) => TEXT_KINDS.includes(r.kind));
  const audio = (a.renditions ?? []).filter((r) => r.kind === 'audio');
  // Audio is listed where there is a choice: the last audio track stays.
  const listed = audio.length > 1 ? [...audio, ...texts] : texts;
  $('#text-tracks').innerHTML = listed.map((t) =>
    `<li data-track="${esc(t.name)}">${esc(t.name)} — ${esc(t.kind)}${t.language ? `, ${esc(t.language)}` : ''} ` +
    `<button type="button" class="remove-track" data-name="${esc(t.name)}">Remove</button></li>`).join('');
  $('#tracks-box').hidden = a.status !== 'ready';
}

// A changed asset: its row, its page, and a player that reads the new manifests.
function trackChanged(a) {
  renderRow(a);
  stopPlayer();
  $('#player').removeAttribute('src');
  $('#audio-box').hidden = true;
  $('#subtitle-box').hidden = true;
  renderAsset(a);
}

// A dub takes a media file and a length rule; subtitles a text file and "forced".
$('#track-kind').addEventListener('change', (e) => {
  const audio = e.target.value === 'audio';
  $('#track-fit-box').hidden = !audio;
  $('#track-forced-box').hidden = audio;
  $('#track-file').accept = audio ? 'audio/*,video/*' : '.vtt,.srt,text/vtt';
});

$('#text-tracks').addEventListener('click', async (e) => {
  const name = e.target.dataset?.name;
  if (!name || !currentAsset) return;
  try {
    trackChanged(await api(`/v1/assets/${currentAsset}/tracks/${encodeURIComponent(name)}`, { method: 'DELETE' }));
    $('#track-result').textContent = `Removed ${name}.`;
  } catch (err) { $('#track-result').textContent = err.message; }
});

$('#add-track').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = $('#track-file').files[0];
  if (!file || !currentAsset) return;
  const kind = $('#track-kind').value;
  const q = new URLSearchParams({ kind });
  const language = $('#track-language').value.trim();
  if (language) q.set('language', language);
  if (kind === 'audio') {
    q.set('fit', $('#track-fit').value);
  } else {
    if ($('#track-forced').checked) q.set('forced', 'true');
    if (/\.srt$/i.test(file.name)) q.set('format', 'srt');
    else if (/\.vtt$/i.test(file.name)) q.set('format', 'vtt');
  }
  $('#track-result').textContent = 'Adding…';
  try {
    const a = await api(`/v1/assets/${currentAsset}/tracks?${q}`, { method: 'POST', body: file });
    const added = (a.renditions ?? []).filter((r) => (kind === 'audio' ? r.kind === 'audio' : TEXT_KINDS.includes(r.kind))).pop();
    trackChanged(a);
    $('#track-result').textContent = `Added ${added?.name ?? 'the track'}.`;
    $('#add-track').reset();
    $('#track-kind').dispatchEvent(new Event('change'));
  } catch (err) { $('#track-result').textContent = err.message; }
});

// Clips: a range of a ready asset made into an asset of its own.
function renderClip(a) {
  $('#clip-box').hidden = a.status !== 'ready' && !a.clip;
  $('#make-clip').hidden = a.status !== 'ready';
  $('#clip-of').hidden = !a.clip;
  if (a.clip) {
    $('#clip-parent').href = `#/asset/${a.clip.of}`;
    $('#clip-parent').textContent = `${a.clip.of} (${a.clip.start} s to ${a.clip.end} s, ${a.clip.mode === 'frame' ? 'to the frame' : 'on keyframes'})`;
  }
}
let clipMark = null;
$('#clip-from-player').addEventListener('click', () => {
  // The first press marks the start, the second the end.
  const t = Math.round($('#player').currentTime * 1000) / 1000;
  if (clipMark === null) {
    clipMark = t;
    $('#clip-start').value = String(t);
    $('#clip-result').textContent = 'Start marked: play on and press again for the end.';
  } else {
    $('#clip-end').value = String(t);
    clipMark = null;
    $('#clip-result').textContent = '';
  }
});
$('#make-clip').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!currentAsset) return;
  $('#clip-result').textContent = 'Making…';
  try {
    const c = await api(`/v1/assets/${currentAsset}/clips`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ start: Number($('#clip-start').value), end: Number($('#clip-end').value), mode: $('#clip-mode').value }),
    });
    $('#clip-result').innerHTML = `Clip <a href="#/asset/${esc(c.id)}">${esc(c.source?.name ?? c.id)}</a> queued.`;
  } catch (err) { $('#clip-result').textContent = err.message; }
});

$('#quality').addEventListener('change', (e) => { if (hls) hls.currentLevel = Number(e.target.value); });
$('#audio-track').addEventListener('change', (e) => { if (hls) hls.audioTrack = Number(e.target.value); });
$('#subtitle-track').addEventListener('change', (e) => {
  if (!hls) return;
  hls.subtitleDisplay = true;
  hls.subtitleTrack = Number(e.target.value);
});
$('#copy-embed').addEventListener('click', () => navigator.clipboard?.writeText($('#embed').value));

// ---- the worker fleet and the queue, refreshed while shown --------------------------
let fleetTimer = null;

async function renderFleet() {
  let f;
  try { f = await api('/v1/workers'); } catch (e) { $('#queue-summary').textContent = `Could not load the fleet: ${e.message}`; return; }
  const live = f.workers.filter((w) => w.state === 'running' || w.state === 'draining');
  const waiting = f.queue.stages.reduce((n, s) => n + s.pending, 0);
  $('#queue-summary').textContent = `${live.length} live worker${live.length === 1 ? '' : 's'}, ${waiting} task${waiting === 1 ? '' : 's'} waiting` +
    (f.queue.waiting_for_codecs ? `, ${f.queue.waiting_for_codecs} of them for a codec no live worker encodes` : '') + '.';
  $('#queue tbody').innerHTML = f.queue.stages.map((s) => `<tr><td>${esc(s.stage)}</td><td>${s.pending}</td><td>${s.running}</td></tr>`).join('');
  $('#workers tbody').innerHTML = f.workers.map((w) => {
    const task = w.task ? `<a href="#/asset/${esc(w.task.asset_id)}">${esc(w.task.stage)}${w.task.stage === 'encode' ? ` part ${w.task.part}` : ''}</a>${w.task.attempt > 1 ? ` (attempt ${w.task.attempt})` : ''}` : '';
    return `<tr><td title="${esc(w.listen ?? '')}">${esc(w.id)}</td><td class="worker ${esc(w.state)}">${esc(w.state)}</td><td>${task}</td>` +
      `<td>${esc(w.codecs.join(', '))}</td><td title="${esc(w.ffmpeg)}">${esc(w.host)}, ${w.cores} cores</td>` +
      `<td>${new Date(w.seen_at).toLocaleTimeString()}</td></tr>`;
  }).join('');
}

function route() {
  const m = location.hash.match(/^#\/asset\/([0-9a-f]{32})$/);
  const workers = location.hash === '#/workers';
  stopPlayer();
  $('#qoe-box').hidden = true;
  const video = $('#player');
  video.removeAttribute('src');
  video.removeAttribute('poster');
  storyboard = [];
  $('#scrub').hidden = true;
  $('#player-box').hidden = true;
  $('#audio-box').hidden = true;
  $('#subtitle-box').hidden = true;
  $('#urls').innerHTML = '';
  $('#embed').value = '';
  currentAsset = m ? m[1] : null;
  $('#list-view').hidden = !!m || workers;
  $('#asset-view').hidden = !m;
  $('#workers-view').hidden = !workers;
  clearInterval(fleetTimer);
  fleetTimer = null;
  if (workers) {
    renderFleet();
    fleetTimer = setInterval(renderFleet, 5000);
  }
  if (m) refreshAsset(m[1]);
}

window.addEventListener('hashchange', route);
loadList().then(route).catch((e) => { document.body.append(`Could not load assets: ${e.message}`); });
