// The console in a real browser, one test per flow of the seed page (console.md):
// every count the page shows is checked against `reach count` of the segment it sent.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { serve, reach, count, api, open, closeBrowser, shownCount, until, accessibility, screenshot } from './harness.mjs';

let server;
before(async () => { server = await serve(); });
after(async () => { await closeBrowser(); await server.stop(); });

const TEXT = 'textarea[name=segment]';

/** Waits until the count shown answers the text now in the box; answers {segment, count}. */
async function settled(page) {
  await page.waitForFunction(() => {
    const box = document.querySelector('textarea[name=segment]');
    const out = document.querySelector('output.count');
    if (!box || !out) return false;
    const text = box.value;
    const s = out && out.dataset.segment;
    return s && !out.classList.contains('busy') && (text.trim() ? s.endsWith(`(${text})`) : !s.includes('('));
  });
  return page.evaluate(() => {
    const out = document.querySelector('output.count');
    return { segment: out.dataset.segment, count: Number(out.dataset.count) };
  });
}

async function tab(page, name) {
  await page.getByRole('tab', { name, exact: true }).click();
  await settled(page);
}

/** One contact of the page's account matching `extra`, from the API. */
async function sample(segment) {
  const answer = await api(server, 'POST', '/list', { segment, limit: 1 });
  return answer.contacts[0];
}

/** The filters to try on each tab: [control name, value (a function of a sample contact)]. */
const TRIES = {
  common: [
    ['name', (c) => c.name], ['tags_in', () => 'vip, gold'], ['tags_out', () => 'churned'],
    ['checkout.from', () => '2026-01-01'], ['interaction.to', () => '2026-03-01'],
    ['joined.from', () => '2024-01-01'], ['status', () => 'unsubscribed'], ['over_quota', () => true],
  ],
  line: [['bound', () => 'yes'], ['app91', () => 'yes'], ['store', (c) => c.store], ['salesperson', (c) => c.salesperson]],
  facebook: [['bound', () => 'no'], ['fb_optin', () => 'yes'], ['fb_sendable', () => 'yes']],
  whatsapp: [['bound', () => 'yes'], ['phone', (c) => c.phone], ['store', (c) => c.store]],
  instagram: [],
  web: [['email', (c) => c.email], ['has_email', () => 'no'], ['phone', (c) => c.phone], ['has_phone', () => 'yes'],
    ['member_id', (c) => c.member_id], ['has_member_id', () => 'no']],
};
const TAB = { line: 'LINE', facebook: 'Facebook', whatsapp: 'WhatsApp', instagram: 'Instagram', web: 'Web' };

async function set(page, name, value) {
  const el = page.locator(`form.filters [name="${name}"]`);
  const kind = await el.evaluate((e) => e.tagName === 'SELECT' ? 'select' : e.type);
  if (kind === 'select') await el.selectOption(value);
  else if (kind === 'checkbox') await el.setChecked(value);
  else await el.fill(value);
}

test('each filter of each tab: the count shown equals reach count of the segment the panel wrote', async () => {
  const page = await open(server);
  await settled(page);
  for (const [channel, label] of Object.entries(TAB)) {
    await tab(page, label);
    const account = await page.inputValue('select[name=account]');
    const base = `channel:${channel} account:${account}`;
    const c = await sample(`${base} has:phone has:store`) || await sample(base);
    for (const [name, value] of [...TRIES.common, ...TRIES[channel]]) {
      const v = value(c);
      if (v === null || v === undefined) continue;
      await page.getByRole('button', { name: 'Clear filters' }).click();
      await settled(page);
      await set(page, name, v);
      const shown = await settled(page);
      const text = await page.inputValue(TEXT);
      assert.ok(text.trim(), `${channel} ${name}: the panel wrote nothing`);
      assert.equal(shown.segment, `${base} (${text})`);
      assert.equal(shown.count, count(server, shown.segment), `${channel} ${name}: ${shown.segment}`);
    }
  }
  // Several at once, and the account picker.
  await tab(page, 'LINE');
  await page.getByRole('button', { name: 'Clear filters' }).click();
  const accounts = await page.locator('select[name=account] option').allTextContents();
  await page.selectOption('select[name=account]', accounts[accounts.length - 1]);
  await set(page, 'tags_in', 'vip');
  await set(page, 'status', 'subscribed');
  await set(page, 'checkout.from', '2025-06-01');
  const shown = await settled(page);
  assert.match(shown.segment, new RegExp(`account:${accounts[accounts.length - 1]} \\(tag:vip checkout:2025-06-01\\.\\. is:subscribed\\)`));
  assert.equal(shown.count, count(server, shown.segment));
  await screenshot(page, 'console-filters.png');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('typing a segment sets the panel; terms it cannot show stay in the text', async () => {
  const page = await open(server);
  await settled(page);
  await page.fill(TEXT, 'tag:vip,gold -tag:churned is:unsubscribed checkout:2025-01-01..2026-05-31 marketing:2026-01-01.. @recent_buyers');
  const shown = await settled(page);
  assert.equal(await page.inputValue('[name=tags_in]'), 'vip, gold');
  assert.equal(await page.inputValue('[name=tags_out]'), 'churned');
  assert.equal(await page.inputValue('[name=status]'), 'unsubscribed');
  assert.equal(await page.inputValue('[name="checkout.from"]'), '2025-01-01');
  assert.equal(await page.inputValue('[name="checkout.to"]'), '2026-05-31');
  assert.equal(await page.inputValue('[name="interaction.which"]'), 'marketing');
  assert.equal(await page.inputValue('[name="interaction.from"]'), '2026-01-01');
  assert.ok(await page.getByText('Some terms cannot be shown in the panel').isVisible());
  assert.equal(shown.count, count(server, shown.segment));
  // The panel then writes the text back, keeping the term it cannot show.
  await set(page, 'tags_out', '');
  const again = await settled(page);
  assert.equal(await page.inputValue(TEXT), 'tag:vip,gold checkout:2025-01-01..2026-05-31 marketing:2026-01-01.. is:unsubscribed @recent_buyers');
  assert.equal(again.count, count(server, again.segment));
  await page.context().close();
});

test('a typo shows the span underlined and the suggestion', async () => {
  const page = await open(server);
  await settled(page);
  await page.fill(TEXT, 'tag:vip is:subscibed');
  await page.waitForSelector('.segment-error mark');
  assert.equal(await page.textContent('.segment-error mark'), 'subscibed');
  assert.match(await page.textContent('.segment-error .message'), /did you mean 'subscribed'\?/);
  assert.equal(await page.getAttribute(TEXT, 'aria-invalid'), 'true');
  assert.equal(await page.locator('table.contacts').count(), 0, 'no list of an older segment stays');
  await page.fill(TEXT, 'tg:vip');
  await until(async () => (await page.textContent('.segment-error mark')) === 'tg');
  assert.match(await page.textContent('.segment-error .message'), /did you mean 'tag'\?/);
  await screenshot(page, 'console-typo.png');
  // A ")" the text never opened would close the page's own parenthesis and reach past the
  // tab and account: it is shown as an error, and nothing is counted.
  await page.fill(TEXT, 'tag:雙11 tag:vip) or (channel:web');
  await until(async () => (await page.textContent('.segment-error mark')) === ')');
  assert.match(await page.textContent('.segment-error .message'), /without its/);
  assert.equal(await page.textContent('output.count'), '—');
  await page.fill(TEXT, 'tag:"a)b" or (tag:vip)');
  await settled(page);
  assert.equal(await page.locator('.segment-error mark').count(), 0);
  await page.fill(TEXT, 'tag:vip');
  await settled(page);
  assert.equal(await page.locator('.segment-error mark').count(), 0);
  await page.context().close();
});

test('the latest input wins: a slow answer to an older input never overwrites a newer one', async () => {
  const page = await open(server);
  await settled(page);
  let first = true;
  await page.route('**/count', async (route) => {
    const slow = first;
    first = false;
    if (slow) await new Promise((r) => setTimeout(r, 1500));
    await route.continue().catch(() => {}); // an aborted request has no one to answer
  });
  await page.fill(TEXT, 'tag:vip');
  await page.fill(TEXT, 'tag:gold');
  const shown = await settled(page);
  await new Promise((r) => setTimeout(r, 2000));
  const still = await page.evaluate(() => document.querySelector('output.count').dataset.segment);
  assert.equal(still, shown.segment);
  assert.match(still, /\(tag:gold\)$/);
  assert.equal(Number(await page.getAttribute('output.count', 'data-count')), count(server, still));
  await page.context().close();
});

test('list columns per tab, as the seed lists them, and paging', async () => {
  const page = await open(server);
  await settled(page);
  const want = {
    LINE: ['Avatar', 'Name', 'Tags', 'Customer’s last interaction', 'Website binding', 'Joined', 'Status', 'Store (salesperson)', 'Actions'],
    Facebook: ['Avatar', 'Name', 'Tags', 'Customer’s last interaction', 'Website binding', 'FB recurring opt-in', 'Joined', 'Status', 'Actions'],
    WhatsApp: ['Name', 'Phone', 'Tags', 'Customer’s last interaction', 'Website binding', 'Joined', 'Status', 'Store (salesperson)', 'Actions'],
    Instagram: ['Avatar', 'Name', 'Tags', 'Customer’s last interaction', 'Joined', 'Status', 'Actions'],
    Web: ['Name', 'Member id', 'Email', 'Phone', 'Tags', 'Joined', 'Status', 'Customer’s last interaction', 'Actions'],
  };
  for (const [label, columns] of Object.entries(want)) {
    await tab(page, label);
    await page.waitForSelector('table.contacts');
    assert.deepEqual(await page.locator('table.contacts th').allTextContents(), columns, label);
  }
  // Paging: page 2 starts where the API's page 1 ended.
  const shown = await settled(page);
  const one = await api(server, 'POST', '/list', { segment: shown.segment, limit: 20 });
  const two = await api(server, 'POST', '/list', { segment: shown.segment, limit: 20, after: one.next });
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.waitForFunction(() => document.querySelector('.list').dataset.page === '2');
  const ids = await page.locator('table.contacts tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  assert.deepEqual(ids, two.contacts.map((c) => c.external_id));
  await page.getByRole('button', { name: 'Previous page' }).click();
  await page.waitForFunction(() => document.querySelector('.list').dataset.page === '1');
  await page.selectOption('select[name=page_size]', '50');
  await until(async () => (await page.locator('table.contacts tbody tr').count()) === Math.min(50, shown.count));
  await page.context().close();
});

/** Waits until the dialog has closed (the page behind it is inert until then). */
const closed = (page) => page.waitForSelector('dialog', { state: 'hidden' });

/** Opens a row's actions and picks one. */
async function action(page, id, label) {
  await page.locator(`tr[data-id="${id}"] .col-actions button`).click();
  await page.locator('dialog ul.menu').getByRole('button', { name: label, exact: true }).click();
}

test('per contact: edit tags, unsubscribe by kind, resubscribe via the unsubscribed filter, delete only after DELETE', async () => {
  const page = await open(server);
  await tab(page, 'Instagram');
  const account = await page.inputValue('select[name=account]');
  const c = await sample(`channel:instagram account:${account} is:subscribed -optout:cart`);
  const who = `channel:instagram account:${account} id:${c.external_id}`;
  await page.fill(TEXT, `id:${c.external_id}`);
  await settled(page);
  await page.waitForSelector(`tr[data-id="${c.external_id}"]`);

  // Edit tags: add one, remove one.
  await action(page, c.external_id, 'Edit tags');
  await page.fill('dialog [name=new_tag]', 'console-test');
  await page.locator('dialog').getByRole('button', { name: 'Add', exact: true }).click();
  if (c.tags.length) await page.getByRole('button', { name: `Remove tag ${c.tags[0]}` }).click();
  await page.locator('dialog').getByRole('button', { name: 'Save' }).click();
  await closed(page);
  await until(() => count(server, `${who} tag:console-test`) === 1);
  if (c.tags.length) assert.equal(count(server, `${who} tag:"${c.tags[0]}"`), 0);
  await until(async () => (await page.locator(`tr[data-id="${c.external_id}"] .tag`).allTextContents()).includes('console-test'));

  // Unsubscribe by kind: only cart remarketing; still subscribed.
  await action(page, c.external_id, 'Unsubscribe');
  await page.getByRole('checkbox', { name: 'Broadcast messages' }).uncheck();
  await page.getByRole('checkbox', { name: 'Site marketing' }).uncheck();
  await page.locator('dialog').getByRole('button', { name: 'Unsubscribe' }).click();
  await closed(page);
  await until(() => count(server, `${who} optout:cart`) === 1);
  assert.equal(count(server, `${who} is:subscribed`), 1);
  // Then broadcast messages: unsubscribed, and the page's totals and count follow.
  const before = Number((await page.locator('.totals dd').nth(1).textContent()).replace(/\D/g, ''));
  await action(page, c.external_id, 'Unsubscribe');
  await page.locator('dialog').getByRole('button', { name: 'Unsubscribe' }).click();
  await closed(page);
  await until(() => count(server, `${who} is:unsubscribed`) === 1);
  await until(async () => Number((await page.locator('.totals dd').nth(1).textContent()).replace(/\D/g, '')) === before - 1);

  // Resubscribe, the seed's way: filter by "unsubscribed", then the contact's actions.
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await set(page, 'status', 'unsubscribed');
  await set(page, 'name', c.name);
  const listed = await settled(page);
  assert.equal(listed.count, count(server, listed.segment));
  await page.waitForSelector(`tr[data-id="${c.external_id}"]`);
  await action(page, c.external_id, 'Resubscribe');
  await page.locator('dialog').getByRole('button', { name: 'Resubscribe' }).click();
  await closed(page);
  await until(() => count(server, `${who} is:subscribed -optout:cart`) === 1);
  await until(async () => (await page.locator(`tr[data-id="${c.external_id}"]`).count()) === 0);

  // Delete: refused until DELETE is typed; then gone, and the count drops.
  await page.fill(TEXT, '');
  const all = await settled(page);
  await page.fill(TEXT, `id:${c.external_id}`);
  await settled(page);
  await action(page, c.external_id, 'Delete');
  const confirm = page.getByRole('button', { name: 'Delete permanently' });
  assert.ok(await confirm.isDisabled());
  await page.fill('dialog [name=confirm]', 'delete');
  assert.ok(await confirm.isDisabled());
  await page.fill('dialog [name=confirm]', 'DELETE');
  await confirm.click();
  await closed(page);
  await until(() => count(server, who) === 0);
  await page.fill(TEXT, '');
  let last;
  await until(async () => { last = await settled(page); return last.count === all.count - 1; }).catch((e) => {
    throw new Error(`${e.message}: ${JSON.stringify({ all, last, cli: count(server, last.segment) })}`);
  });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

/** The figures table of a dialog as {label: number}. */
async function figures(page) {
  const rows = await page.locator('dialog table.figures tr').evaluateAll((trs) => trs.map((tr) => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]));
  return Object.fromEntries(rows.map(([k, v]) => [k, Number(v.replace(/\D/g, ''))]));
}

/** reach's report as the figures table's labels. */
function labelled(report) {
  const names = { unknown: 'unknown (CSV rows naming nobody)', blocked: 'blocked', opted_out: 'opted out', over_quota: 'over quota',
    not_fb_sendable: 'not FB sendable', outside_window: 'outside the 24-hour window', no_email: 'no email', line_quota: 'beyond the LINE quota', deleted: 'deleted' };
  const out = { Audience: report.audience, Eligible: report.eligible };
  for (const [k, v] of Object.entries(report.excluded)) if (v) out[`Excluded: ${names[k]}`] = v;
  return out;
}

test('broadcast: the preview equals reach broadcast --dry-run --json; the job completes and its report shows', async () => {
  const page = await open(server);
  await tab(page, 'Facebook');
  await set(page, 'tags_in', 'vip');
  const shown = await settled(page);
  await page.getByRole('button', { name: 'Broadcast', exact: true }).click();
  await page.fill('dialog [name=text]', 'Hello {{name|friend}}');
  await page.locator('dialog').getByRole('button', { name: 'Preview' }).click();
  await page.waitForSelector('dialog table.figures');
  const cli = JSON.parse(reach(server, 'broadcast', shown.segment, '--kind', 'broadcast', '--text', 'Hello {{name|friend}}', '--sink', 'dry-run', '--dry-run', '--json'));
  assert.deepEqual(await figures(page), labelled(cli));
  await page.locator('dialog').getByRole('button', { name: 'Send' }).click();
  await page.waitForSelector('dialog [data-state=done]', { timeout: 30_000 });
  const report = await figures(page);
  assert.equal(report.Sent, cli.eligible);
  const outbox = readFileSync(server.outbox, 'utf8').trim().split('\n');
  assert.equal(outbox.length, cli.eligible);
  await screenshot(page, 'console-broadcast.png');
  await page.keyboard.press('Escape');
  // The jobs list shows it, done.
  await page.getByRole('button', { name: 'Broadcast jobs' }).click();
  await page.waitForSelector('dialog details.job');
  assert.match(await page.textContent('dialog details.job summary'), /done/);
  await page.context().close();
});

test('broadcast jobs: a sending job shows its progress and can be cancelled', async () => {
  // A stand-in webhook that holds every request: the job stays sending until cancelled.
  const held = [];
  const hook = createServer((request) => held.push(request));
  await new Promise((r) => hook.listen(0, '127.0.0.1', r));
  const sink = `webhook:http://127.0.0.1:${hook.address().port}/`;
  const job = await api(server, 'POST', '/broadcasts', { segment: 'channel:whatsapp is:subscribed', kind: 'broadcast', text: 'slow', id: 'slow-1', sink });
  assert.equal(job.state, 'sending');
  after(() => { hook.closeAllConnections(); hook.close(); });
  const page = await open(server);
  await settled(page);
  await page.getByRole('button', { name: 'Broadcast jobs' }).click();
  const row = page.locator('dialog details.job', { hasText: 'slow-1' });
  await row.locator('summary').click();
  await row.getByRole('button', { name: 'Cancel job' }).click();
  await until(async () => (await api(server, 'GET', '/broadcasts/slow-1')).state !== 'sending');
  await until(async () => /failed/.test(await page.locator('dialog details.job', { hasText: 'slow-1' }).locator('summary').textContent()));
  const done = await api(server, 'GET', '/broadcasts/slow-1');
  assert.ok(done.sent < done.eligible, `cancelled early: ${done.sent} of ${done.eligible}`);
  await page.context().close();
});

test('import, export and broadcast from CSV', async () => {
  const page = await open(server);
  await tab(page, 'Web');
  const account = await page.inputValue('select[name=account]');
  // Import: a new contact.
  const csv = `channel,account,external_id,name,email,tags\nweb,${account},console-new-1,Console Person,console@example.com,imported\n`;
  await page.getByRole('button', { name: 'Import CSV' }).click();
  await page.setInputFiles('dialog input[type=file]', { name: 'new.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.locator('dialog').getByRole('button', { name: 'Import CSV' }).click();
  await page.waitForSelector('dialog pre.summary');
  assert.equal(count(server, `account:${account} id:console-new-1 tag:imported`), 1);
  await page.keyboard.press('Escape');
  // Export: the filtered contacts' CSV, one line each.
  await page.fill(TEXT, 'tag:imported,vip');
  const shown = await settled(page);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  const text = readFileSync(await download.path(), 'utf8');
  assert.equal(text.trim().split('\n').length, shown.count + 1);
  assert.match(text, /console-new-1/);
  // Broadcast from CSV: identities in a file (one unknown).
  const some = (await api(server, 'POST', '/list', { segment: `account:${account} is:subscribed has:email`, limit: 2 })).contacts;
  const audience = ['channel,account,external_id,coupon', ...some.map((c) => `web,${account},${c.external_id},X1`), `web,${account},nobody-here,X2`].join('\n');
  const file = join(server.dir, 'audience.csv');
  writeFileSync(file, audience);
  await page.getByRole('button', { name: 'Broadcast from CSV' }).click();
  await page.setInputFiles('dialog input[type=file]', file);
  await page.locator('dialog').getByRole('button', { name: 'Preview' }).click();
  await page.waitForSelector('dialog [name=text]');
  assert.ok(await page.getByText('3 contacts named in the file').isVisible());
  await page.fill('dialog [name=text]', 'Hi {{name|friend}}, {{coupon}}');
  await page.locator('dialog').getByRole('button', { name: 'Preview' }).click();
  await page.waitForSelector('dialog table.figures');
  const cli = JSON.parse(reach(server, 'broadcast', '--csv', file, '--kind', 'broadcast', '--text', 'Hi {{name|friend}}, {{coupon}}', '--sink', 'dry-run', '--dry-run', '--json'));
  assert.equal(cli.excluded.unknown, 1);
  assert.deepEqual(await figures(page), labelled(cli));
  // Sent: each message carries its row's coupon.
  await page.locator('dialog').getByRole('button', { name: 'Send' }).click();
  await page.waitForSelector('dialog [data-state=done]', { timeout: 30_000 });
  const sent = readFileSync(server.outbox, 'utf8');
  assert.match(sent, /X1/);
  await page.context().close();
});

test('WhatsApp: add a contact by hand', async () => {
  const page = await open(server);
  await tab(page, 'WhatsApp');
  const account = await page.inputValue('select[name=account]');
  await page.getByRole('button', { name: 'Add contact' }).click();
  await page.fill('dialog [name=name]', 'Hand Added');
  await page.fill('dialog [name=phone]', '12');
  await page.locator('dialog').getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByText('A phone is + and 8 to 15 digits.').waitFor();
  await page.fill('dialog [name=phone]', '+886 912-345-678');
  await page.locator('dialog').getByRole('button', { name: 'Add', exact: true }).click();
  await until(() => count(server, `channel:whatsapp account:${account} phone:+886912345678 name:"hand added"`) === 1);
  await page.context().close();
});

test('manage tags: search, add, sort, page size, select several and delete', async () => {
  const page = await open(server);
  await settled(page);
  await page.getByRole('button', { name: 'Manage tags' }).click();
  await page.waitForSelector('dialog table.tags-table tbody tr');
  assert.equal(await page.locator('dialog table.tags-table tbody tr').count(), 20);
  await page.selectOption('dialog [name=tag_page_size]', '50');
  await until(async () => (await page.locator('dialog table.tags-table tbody tr').count()) === 50);
  // Sort by count, fewest first: counts rise.
  await page.selectOption('dialog [name=sort]', '-count');
  await until(async () => {
    const n = (await page.locator('dialog table.tags-table tbody tr td:nth-child(3)').allTextContents()).map((s) => Number(s.replace(/\D/g, '')));
    return n.length === 50 && n.every((x, i) => i === 0 || n[i - 1] <= x);
  });
  // Add two, find them by search, select both and delete.
  for (const name of ['zz-console-a', 'zz-console-b']) {
    await page.fill('dialog [name=new_tag]', name);
    await page.locator('dialog').getByRole('button', { name: 'Add', exact: true }).click();
    await until(async () => (await api(server, 'GET', `/tags?search=${name}`)).total === 1);
  }
  await page.fill('dialog [name=tag_search]', 'zz-console');
  await until(async () => (await page.locator('dialog table.tags-table tbody tr').count()) === 2);
  await page.getByRole('checkbox', { name: 'Select zz-console-a' }).check();
  await page.getByRole('checkbox', { name: 'Select zz-console-b' }).check();
  await page.getByRole('button', { name: 'Delete selected' }).click();
  await until(async () => (await api(server, 'GET', '/tags?search=zz-console')).total === 0);
  await until(async () => (await page.locator('dialog table.tags-table tbody tr').count()) === 0);
  await page.context().close();
});

test('totals are subscribed + unsubscribed of the account, and LINE shows its quota', async () => {
  await api(server, 'PUT', '/quota/line-hk', { plan: 500, purchased: 100, used: 120 });
  const page = await open(server);
  await settled(page);
  assert.equal(await page.inputValue('select[name=account]'), 'line-hk');
  assert.match(await page.textContent('.quota'), /120 \/ 600/);
  const [total, subscribed, unsubscribed] = (await page.locator('.totals dd').allTextContents()).map((x) => Number(x.replace(/\D/g, '')));
  assert.equal(total, count(server, 'channel:line account:line-hk'));
  assert.equal(subscribed, count(server, 'channel:line account:line-hk is:subscribed'));
  assert.equal(total, subscribed + unsubscribed);
  await tab(page, 'Facebook');
  assert.equal(await page.locator('.quota').count(), 0);
  await page.context().close();
});

test('Traditional Chinese from the browser, English by choice', async () => {
  const page = await open(server, { locale: 'zh-TW' });
  await settled(page);
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-TW');
  assert.ok(await page.getByRole('tab', { name: '網站' }).isVisible());
  assert.ok(await page.getByText('聯絡人總數').isVisible());
  await screenshot(page, 'console-zh.png');
  await page.selectOption('select[name=language]', 'en');
  await page.getByText('Total contacts').waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.context().close();
});

test('390 px wide: no sideways scrolling, the count and the list work', async () => {
  const page = await open(server, { width: 390 });
  await settled(page);
  assert.ok(!(await page.locator('form.filters').isVisible()), 'the filters start folded on a phone');
  await page.locator('.panel summary').click();
  await set(page, 'tags_in', 'vip');
  const shown = await settled(page);
  assert.equal(shown.count, count(server, shown.segment));
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `the page is ${wide} px wide`);
  await page.locator('.panel summary').click();
  await page.waitForSelector('table.contacts');
  await screenshot(page, 'console-phone.png');
  await page.context().close();
});

test('keyboard: Tab reaches the tabs, filters, segment, actions and a row; a dialog opens with Enter and closes with Escape', async () => {
  const page = await open(server);
  await settled(page);
  await page.waitForSelector('table.contacts');
  const reached = new Set();
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    reached.add(await page.evaluate(() => {
      const el = document.activeElement;
      return el.getAttribute('name') || el.getAttribute('aria-label') || el.textContent.trim();
    }));
    if ([...reached].some((x) => x.startsWith('Actions: '))) break;
  }
  for (const want of ['Facebook', 'account', 'tags_in', 'segment', 'Broadcast', 'Export CSV']) assert.ok(reached.has(want), `${want} not reached: ${[...reached]}`);
  assert.ok([...reached].some((x) => x.startsWith('Actions: ')), 'no row reached');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open] ul.menu');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog', { state: 'hidden' });
  await page.context().close();
});

test('axe-core finds no serious or critical violations (page, filters set, a dialog open, the key form)', async () => {
  const page = await open(server);
  await settled(page);
  await screenshot(page, 'console.png');
  assert.deepEqual(await accessibility(page), []);
  await page.fill(TEXT, 'tg:vip');
  await page.waitForSelector('.segment-error mark');
  assert.deepEqual(await accessibility(page), []);
  await page.fill(TEXT, '');
  await settled(page);
  await page.getByRole('button', { name: 'Manage tags' }).click();
  await page.waitForSelector('dialog table.tags-table tbody tr');
  assert.deepEqual(await accessibility(page), []);
  await page.context().close();
});

test('a key confined to one account sees only its tab and contacts; a read-only key no action buttons', async () => {
  const guarded = await serve({ contacts: 1500, masterKey: 'console-master' });
  try {
    const made = await api(guarded, 'POST', '/keys', { actions: ['read'], accounts: ['line-tw'] });
    const page = await open(guarded);
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.getByText('That key was refused').waitFor();
    assert.deepEqual(await accessibility(page), []);
    await page.getByLabel('API key').fill(made.key);
    await page.getByRole('button', { name: 'Use this key' }).click();
    const shown = await settled(page);
    assert.deepEqual(await page.getByRole('tab').allTextContents(), ['LINE']);
    assert.deepEqual(await page.locator('select[name=account] option').allTextContents(), ['line-tw']);
    assert.equal(shown.count, count(guarded, 'channel:line account:line-tw'));
    assert.equal(await page.locator('.bulk button').allTextContents().then((b) => b.filter((x) => x !== 'Export CSV').length), 0);
    assert.equal(await page.locator('.col-actions').count(), 0);
    // The key is kept for the browser session: a reload does not ask again.
    await page.reload();
    await settled(page);
    await page.context().close();
  } finally {
    await guarded.stop();
  }
});
