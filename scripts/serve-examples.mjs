#!/usr/bin/env node
// A tiny static server for the browser demo (Node built-ins only).
//
//   npm run serve:examples                  build dist/browser/, then serve on a free port
//   node scripts/serve-examples.mjs [--port N] [--host 127.0.0.1]
//
// Serves the repository's examples/ and dist/browser/ (nothing else) on 127.0.0.1; `/` redirects to the
// demo page. It prints one line, `serving http://127.0.0.1:PORT/examples/browser/`, once it listens
// (test/browser/browser.test.ts waits for that line). Pages on 127.0.0.1 are a secure context, which
// navigator.gpu requires.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ALLOWED = ['examples', join('dist', 'browser')];
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const host = option('host', '127.0.0.1');
const port = Number(option('port', process.env.PORT ?? '0')); // 0: a free port

const server = createServer((req, res) => {
  const send = (status, text, headers = {}) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(text);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    return send(400, 'bad request\n');
  }
  if (pathname === '/') return send(302, 'see /examples/browser/\n', { location: '/examples/browser/' });
  const relative = normalize(pathname).replace(/^[/\\]+/, '');
  if (relative.includes('\0') || !ALLOWED.some((dir) => relative === dir || relative.startsWith(dir + sep))) {
    return send(404, `not found: ${pathname} (only examples/ and dist/browser/ are served)\n`);
  }
  let file = join(root, relative);
  let stat;
  try {
    stat = statSync(file);
    if (stat.isDirectory()) {
      if (!pathname.endsWith('/')) return send(301, 'moved\n', { location: `${pathname}/` });
      file = join(file, 'index.html');
      stat = statSync(file);
    }
  } catch {
    const hint = relative.startsWith(join('dist', 'browser')) ? ' (run `npm run build:browser`)' : '';
    return send(404, `not found: ${pathname}${hint}\n`);
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': stat.size,
    'cache-control': 'no-store',
  });
  if (req.method === 'HEAD') return res.end();
  createReadStream(file).pipe(res);
});

server.listen(port, host, () => {
  const address = server.address();
  console.log(`serving http://${host}:${address.port}/examples/browser/`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
