import { agentSource } from '../helpers/fixtures.js';

// Agents a hostile tenant would deploy. Each answers `/ping`, so it deploys; what it does
// on `POST /invocations` is the attack.

/**
 * Tries to reach every target it is given, over HTTP (`fetch`) and raw TCP
 * (`cloudflare:sockets`), and reports for each whether anything answered.
 */
export const PROBER = agentSource(`import { connect } from 'cloudflare:sockets';
async function tryFetch(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return { reached: true, detail: 'HTTP ' + res.status };
  } catch (err) { return { reached: false, detail: String(err && err.message || err) }; }
}
async function tryConnect(hostname, port) {
  try {
    const socket = connect({ hostname, port });
    await Promise.race([socket.opened, new Promise((_, no) => setTimeout(() => no(new Error('no answer in 3 s')), 3000))]);
    const writer = socket.writable.getWriter();
    await writer.write(new TextEncoder().encode('GET / HTTP/1.0\\r\\n\\r\\n'));
    const { value } = await Promise.race([socket.readable.getReader().read(), new Promise((_, no) => setTimeout(() => no(new Error('no reply in 3 s')), 3000))]);
    socket.close();
    return { reached: true, detail: 'read ' + (value ? value.length : 0) + ' bytes' };
  } catch (err) { return { reached: false, detail: String(err && err.message || err) }; }
}
export default { async fetch(req) {
  if (new URL(req.url).pathname === '/ping') return new Response('ok');
  const { input } = await req.json();
  const results = [];
  for (const t of input.targets) {
    const url = 'http://' + (t.host.includes(':') ? '[' + t.host + ']' : t.host) + ':' + t.port + '/';
    results.push({ ...t, via: 'fetch', ...(await tryFetch(url)) });
    results.push({ ...t, via: 'connect', ...(await tryConnect(t.host, t.port)) });
  }
  return Response.json({ output: results });
} }`);

/** Misbehaves as asked: eats memory (outside the heap, or in it), burns CPU, never answers, streams forever, answers too much. */
export const HOSTILE = agentSource(`export default { async fetch(req) {
  if (new URL(req.url).pathname === '/ping') return new Response('ok');
  const { input } = await req.json();
  if (input === 'memory') {
    const hoard = [];
    for (let i = 0; i < 128; i++) { hoard.push(new Uint8Array(64 * 1024 * 1024).fill(i)); await new Promise((r) => setTimeout(r, 5)); }
    return Response.json({ output: 'held ' + hoard.length * 64 + ' MiB' });
  }
  if (input === 'heap') {
    const hoard = [];
    for (;;) { hoard.push(Array.from({ length: 100000 }, (_, i) => ({ i, s: 'x' + i }))); await new Promise((r) => setTimeout(r, 1)); }
  }
  if (input === 'cpu') { let n = 0; for (;;) n++; }
  if (input === 'hang') { await new Promise((r) => setTimeout(r, 3600000)); return new Response('late'); }
  if (input === 'endless') {
    let n = 0;
    const body = new ReadableStream({ async pull(c) { await new Promise((r) => setTimeout(r, 20)); c.enqueue(new TextEncoder().encode('data: {"delta":"' + (n++) + ' "}\\n\\n')); } });
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  }
  if (input === 'huge') {
    const chunk = new TextEncoder().encode('x'.repeat(1024 * 1024));
    let sent = 0;
    const body = new ReadableStream({ pull(c) { if (sent++ < 200) c.enqueue(chunk); else c.close(); } });
    return new Response(body, { headers: { 'content-type': 'application/json' } });
  }
  return Response.json({ output: 'fine' });
} }`);

/** A module whose top level never ends. */
export const LOOPS_AT_START = agentSource(`for (;;) {}
export default { fetch() { return new Response('never') } }`);

/** Sources that break esbuild's service: a throw outside any promise, and a stopped service. */
export const BUNDLER_CRASHERS = {
  'a ~100 KB expression of 100,000 minus signs': agentSource(
    `const x = ${'-'.repeat(100_000)}1;\nexport default { fetch() { return new Response(String(x)) } }`,
  ),
  '2 MB of nested parentheses': agentSource(
    `const x = ${'('.repeat(1_000_000)}1${')'.repeat(1_000_000)};\nexport default { fetch() { return new Response(String(x)) } }`,
  ),
};
