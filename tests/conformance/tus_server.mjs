// Serves the tus project's own server (@tus/server with @tus/file-store, the server Supabase
// Storage runs) on 127.0.0.1 at Supabase's resumable path, for
// tests/integration/tus_conformance.rs. Usage: node tus_server.mjs <directory>.
// Prints one JSON line per event: {"event":"listening","port":N} first, then one line per
// request (method, Upload-Offset, Content-Length, Content-Type, the creation headers).
// Exits when stdin closes, so it never outlives the test.
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const directory = process.argv[2];
if (!directory) {
  console.error('usage: node tus_server.mjs <directory>');
  process.exit(2);
}
const tus = new Server({
  path: '/storage/v1/upload/resumable',
  datastore: new FileStore({ directory }),
});
const line = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const server = http.createServer((req, res) => {
  const h = req.headers;
  line({
    event: 'request',
    method: req.method,
    offset: h['upload-offset'] ?? null,
    length: h['content-length'] ?? null,
    contentType: h['content-type'] ?? null,
    headers: req.method === 'POST' ? h : undefined,
  });
  res.on('finish', () => line({ event: 'response', method: req.method, status: res.statusCode }));
  tus.handle(req, res);
});
server.listen(0, '127.0.0.1', () => line({ event: 'listening', port: server.address().port }));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
