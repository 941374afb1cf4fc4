// What the browser tests share: a `reach serve --demo` on a fresh directory (at a fixed
// now), the command line on the same directory (read-only commands run beside the
// server), Debian's Chromium through playwright-core, and axe-core.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync, rmSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');
export const NOW = '2026-06-01T04:00:00Z';

/** The reach binary: $REACH_BIN, else the newer of the release and debug builds. */
export const bin = process.env.REACH_BIN
  || ['release', 'debug'].map((p) => join(root, 'target', p, 'reach')).filter(existsSync)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
if (!bin) throw new Error('no reach binary: run `cargo build` (or set REACH_BIN)');

/** Starts `reach serve --demo` on a new directory (or on `keep`/d, made once and kept);
 * answers {base, data, outbox, stop}. */
export async function serve({ contacts = 3000, masterKey = null, keep = null } = {}) {
  const dir = keep || mkdtempSync(join(tmpdir(), 'reach-console-'));
  const data = join(dir, 'd');
  const args = ['--data', data, '--now', NOW, 'serve', '--listen', '127.0.0.1:0', '--demo', '--demo-contacts', String(contacts)];
  if (masterKey) args.push('--master-key', masterKey);
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const base = await new Promise((resolve, reject) => {
    let text = '';
    child.stderr.on('data', (chunk) => {
      text += chunk;
      const m = /listening on (http:\/\/\S+)\r?\n/.exec(text); // a whole line: a chunk may end mid-address
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`reach serve exited ${code}: ${text}`)));
  });
  child.stderr.resume();
  const exited = new Promise((resolve) => child.on('exit', resolve));
  /** Stops the server (it checkpoints on SIGTERM) and removes its directory. */
  const stop = async () => { child.kill('SIGTERM'); await exited; if (!keep) rmSync(dir, { recursive: true, force: true }); };
  return { base, data, outbox: join(dir, 'd-outbox.jsonl'), dir, stop, masterKey };
}

/** `reach --data DATA --now NOW ARGS…`'s stdout. */
export function reach(server, ...args) {
  return execFileSync(bin, ['--data', server.data, '--now', NOW, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
export const count = (server, segment) => Number(reach(server, 'count', segment).trim());

/** A JSON request to the server (with the master key when it has one). */
export async function api(server, method, path, body) {
  const headers = { 'content-type': 'application/json' };
  if (server.masterKey) headers.authorization = `Bearer ${server.masterKey}`;
  const r = await fetch(server.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

let browser = null;
/** The one browser (Debian's Chromium, or $CHROMIUM). */
export async function launch() {
  browser ??= await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  return browser;
}
export async function closeBrowser() { if (browser) await browser.close(); browser = null; }

/** A new page on the console at `width`×900 in `locale`; page errors fail the test. */
export async function open(server, { width = 1280, locale = 'en-US' } = {}) {
  const context = await (await launch()).newContext({ viewport: { width, height: 900 }, locale, acceptDownloads: true });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort()); // the demo's avatar hosts
  await page.goto(server.base + '/');
  return page;
}

/** Waits until the count shown answers `segment` (the page's whole segment); answers it. */
export async function shownCount(page, segment) {
  const el = page.locator('output.count');
  await page.waitForFunction((s) => document.querySelector('output.count')?.dataset.segment === s, segment);
  return Number(await el.getAttribute('data-count'));
}

/** Polls `fn` until it answers true (or throws after `ms`). */
export async function until(fn, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out: ${fn}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** axe-core's serious and critical violations on the page as it is. */
export async function accessibility(page) {
  const require = createRequire(import.meta.url);
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')})`);
}

/** Saves a screenshot into docs/ (shown in the README). */
export async function screenshot(page, name) {
  mkdirSync(join(root, 'docs'), { recursive: true });
  await page.screenshot({ path: join(root, 'docs', name) });
}
