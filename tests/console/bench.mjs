// The console's targets measured in Chromium (BENCHMARKS.md): first load (bytes
// transferred, time to the first count), a filter change to its count shown (p50/p95
// over the seed's filters on the LINE tab), a list page shown.
//
//   node bench.mjs [CONTACTS] [ROUNDS] [DIR]   (default 1000000 contacts, 5 rounds; the
//       newer of the release and debug binaries, or $REACH_BIN; DIR keeps the audience)

import { serve, open, closeBrowser } from './harness.mjs';

const contacts = Number(process.argv[2] || 1_000_000);
const rounds = Number(process.argv[3] || 5);
const keep = process.argv[4] || null;
const note = (text) => process.stderr.write(`${new Date().toISOString()} ${text}\n`);

/** [control, value]: one change of each of the seed's LINE filters. */
const CHANGES = [
  ['name', 'kelly liu'], ['tags_in', 'vip'], ['tags_out', 'churned'], ['checkout.from', '2026-01-01'],
  ['interaction.from', '2026-03-01'], ['bound', 'yes'], ['over_quota', true], ['joined.to', '2025-01-01'],
  ['status', 'unsubscribed'], ['app91', 'yes'], ['store', 'taipei-101'], ['salesperson', 'E001'],
];

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(1)} ms, p95 ${pct(xs, 95).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;

/** In the page: applies one change and answers the ms until its count is shown. */
function change([name, value]) {
  return new Promise((resolve) => {
    const el = document.querySelector(`form.filters [name="${name}"]`);
    const out = document.querySelector('output.count');
    const before = out.dataset.segment;
    const start = performance.now();
    const seen = new MutationObserver(() => {
      if (out.dataset.segment !== before && !out.classList.contains('busy')) { seen.disconnect(); resolve(performance.now() - start); }
    });
    seen.observe(out, { attributes: true, childList: true, subtree: true });
    if (el.type === 'checkbox') el.checked = !el.checked; else el.value = el.value === String(value) ? '' : value;
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

note('starting the server');
const server = await serve({ contacts, keep });
note('serving');
try {
  const page = await open(server);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  // First load: a cold page (no cache), to its first count.
  const loads = [];
  const loadBytes = [];
  for (let i = 0; i < rounds; i++) {
    bytes = 0;
    await page.goto(server.base + '/');
    await page.waitForFunction(() => document.querySelector('output.count')?.dataset.count, null, { polling: 'raf' });
    loads.push(await page.evaluate(() => performance.now()));
    await page.waitForLoadState('networkidle');
    loadBytes.push(bytes);
  }
  note('loaded');
  // Filter changes on the LINE tab's first account.
  const changes = [];
  for (let i = 0; i < rounds; i++) {
    for (const c of CHANGES) changes.push(await page.evaluate(change, c));
  }
  note('filters changed');
  // List pages: next page after next page.
  const pages = [];
  await page.fill('textarea[name=segment]', '');
  await page.waitForFunction(() => !document.querySelector('output.count').dataset.segment.includes('('));
  for (let i = 0; i < rounds * 4; i++) {
    // The list of the segment counted is shown, with a next page.
    await page.waitForFunction(() => {
      const list = document.querySelector('.list');
      const next = [...document.querySelectorAll('nav.pages button')].at(-1);
      return list.dataset.segment === document.querySelector('output.count').dataset.segment && next && !next.disabled;
    });
    pages.push(await page.evaluate(() => new Promise((resolve) => {
      const list = document.querySelector('.list');
      const want = String(Number(list.dataset.page) + 1);
      const start = performance.now();
      const seen = new MutationObserver(() => { if (list.dataset.page === want) { seen.disconnect(); resolve(performance.now() - start); } });
      seen.observe(list, { attributes: true });
      [...document.querySelectorAll('nav.pages button')].at(-1).click();
    })));
  }
  const count = await page.evaluate(() => document.querySelector('.totals dd').textContent);
  console.log(`contacts: ${contacts} (LINE tab, first account: ${count} contacts)`);
  console.log(`first load: ${Math.max(...loadBytes)} bytes transferred (max of ${rounds}), to the first count ${fmt(loads)}`);
  console.log(`filter change to count shown: ${fmt(changes)}`);
  console.log(`list page shown: ${fmt(pages)}`);
  await page.context().close();
} finally {
  await closeBrowser();
  await server.stop();
}
