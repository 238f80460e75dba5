// A tiny static HTTP server for the playback tests (node built-ins only).
//
//   /                      -> player.html (?player=hls|dash|shaka&src=URL)
//   /lib/hls.js            -> hls.js from node_modules
//   /lib/dash.js           -> dash.js (npm package "dashjs") from node_modules
//   /lib/shaka.js          -> Shaka Player from node_modules
//   /media/<path>          -> files of the output folder being tested
//
// GET and HEAD, a single byte range (206 / 416), CORS, no caching. Binds 127.0.0.1
// on an ephemeral port. Run by hand to look at a folder in a real browser:
//
//   node server.mjs /path/to/output [port]
//   -> open http://127.0.0.1:PORT/?player=shaka&src=/media/manifest.mpd

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODULES = path.join(HERE, 'node_modules');

// Candidate files per library, first existing one wins (dist layouts move between versions).
const LIBS = {
  'hls.js': ['hls.js/dist/hls.min.js', 'hls.js/dist/hls.js'],
  'dash.js': [
    'dashjs/dist/modern/umd/dash.all.min.js',
    'dashjs/dist/dash.all.min.js',
    'dashjs/dist/legacy/umd/dash.all.min.js',
  ],
  'shaka.js': ['shaka-player/dist/shaka-player.compiled.js'],
};

export function libraryPath(name) {
  for (const rel of LIBS[name] ?? []) {
    const file = path.join(MODULES, rel);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

const TYPES = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.mp4': 'video/mp4',
  '.m4s': 'video/mp4',
  '.m4v': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.mp4a': 'audio/mp4',
  '.ts': 'video/mp2t',
  '.vtt': 'text/vtt',
  '.webvtt': 'text/vtt',
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.txt': 'text/plain; charset=utf-8',
};

function contentType(file) {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

// Parse one "bytes=a-b" / "bytes=a-" / "bytes=-n" range. Returns {start,end},
// 'unsatisfiable', or null (header absent, malformed or multi-range: send the whole file).
function parseRange(header, size) {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start;
  let end;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null; // invalid: ignore the header
  }
  if (start >= size || size === 0) return 'unsatisfiable';
  return { start, end };
}

// Resolve a URL path under root; null if it escapes root.
function under(root, urlPath) {
  const file = path.resolve(root, '.' + path.posix.normalize('/' + urlPath));
  return file === root || file.startsWith(root + path.sep) ? file : null;
}

function sendFile(req, res, file) {
  let stat;
  try {
    stat = fs.statSync(file);
  } catch {
    return sendText(res, 404, 'not found\n');
  }
  if (stat.isDirectory()) return sendText(res, 404, 'is a directory\n');
  const size = stat.size;
  const headers = {
    'Content-Type': contentType(file),
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'no-store',
    'Last-Modified': stat.mtime.toUTCString(),
  };
  const range = parseRange(req.headers.range, size);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
    return res.end();
  }
  let status = 200;
  let start = 0;
  let end = size - 1;
  if (range) {
    status = 206;
    ({ start, end } = range);
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['Content-Length'] = size === 0 ? 0 : end - start + 1;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) return res.end();
  const stream = fs.createReadStream(file, { start, end });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

function sendText(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Start the server. mediaDir: the folder served under /media/.
 * Returns { url, port, close(), requests } where requests logs "STATUS METHOD PATH".
 */
export async function startServer({ mediaDir, host = '127.0.0.1', port = 0 } = {}) {
  const mediaRoot = mediaDir ? path.resolve(mediaDir) : null;
  const requests = [];
  const server = http.createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range, Content-Type');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range, Accept-Ranges');
    res.on('finish', () => requests.push(`${res.statusCode} ${req.method} ${req.url}`));
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS' });
      return res.end();
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed\n');
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return sendText(res, 400, 'bad url\n');
    }
    if (pathname === '/' || pathname === '/player.html') return sendFile(req, res, path.join(HERE, 'player.html'));
    if (pathname === '/favicon.ico') {
      res.writeHead(204);
      return res.end();
    }
    if (pathname.startsWith('/lib/')) {
      const file = libraryPath(pathname.slice('/lib/'.length));
      return file ? sendFile(req, res, file) : sendText(res, 404, 'library not installed (npm ci?)\n');
    }
    if (pathname.startsWith('/media/') && mediaRoot) {
      const file = under(mediaRoot, pathname.slice('/media/'.length));
      return file ? sendFile(req, res, file) : sendText(res, 403, 'forbidden\n');
    }
    return sendText(res, 404, 'not found\n');
  });
  server.keepAliveTimeout = 2000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: actual } = server.address();
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, port] = process.argv.slice(2);
  const s = await startServer({ mediaDir: dir ?? '.', port: Number(port ?? 0) });
  console.log(`serving ${path.resolve(dir ?? '.')} at ${s.url}/media/`);
  console.log(`  ${s.url}/?player=hls&src=/media/master.m3u8`);
  console.log(`  ${s.url}/?player=dash&src=/media/manifest.mpd`);
  console.log(`  ${s.url}/?player=shaka&src=/media/manifest.mpd`);
}
