// What the page does to contacts, all through serve's API: per-contact actions (edit
// tags, unsubscribe by kind, resubscribe, delete after typing DELETE), the bulk bar
// (broadcast with preview and progress, import, export, broadcast from CSV, WhatsApp
// add), manage tags, and broadcast jobs. `ctx` is the page's: its segment, what the key
// may do, and `changed()` to show an action's result.

import { call, changes } from './api.js';
import { h, field, modal, status } from './dom.js';
import { statusOf } from './list.js';
import { t, number, when } from './i18n.js';

const KINDS = ['broadcast', 'site_marketing', 'cart'];
const REASONS = ['unknown', 'blocked', 'opted_out', 'over_quota', 'not_fb_sendable', 'outside_window', 'no_email', 'line_quota', 'deleted'];

const identity = (c) => ({ channel: c.channel, account: c.account, external_id: c.external_id });

/** Sends changes; shows the outcome in `out`, and the page's new state when done. */
async function apply(ctx, lines, out, close) {
  try {
    const n = await changes(lines);
    out.replaceChildren(status(t('done', { changed: n })));
    await ctx.changed();
    if (close) close();
  } catch (e) {
    out.replaceChildren(status(t('failed', { message: e.message }), 'error'));
  }
}

// ---- per contact ------------------------------------------------------------------

/** The row's "Actions" button. */
export function contactMenu(ctx, c) {
  return h('button', { type: 'button', class: 'small', 'aria-label': `${t('actions')}: ${c.name || c.external_id}`,
    onclick: () => menu(ctx, c) }, t('actions'));
}

function menu(ctx, c) {
  const item = (label, run) => h('li', {}, h('button', { type: 'button', onclick: () => run(ctx, c) }, label));
  const close = modal(`${t('actions')}: ${c.name || c.external_id}`, h('div', {},
    h('ul', { class: 'menu' },
      item(t('edit_tags'), editTags),
      statusOf(c) === 'subscribed' || (c.opt_outs || []).length < KINDS.length ? item(t('unsubscribe'), unsubscribe) : null,
      statusOf(c) !== 'subscribed' || (c.opt_outs || []).length ? item(t('resubscribe'), resubscribe) : null,
      item(t('delete'), remove)),
    h('button', { type: 'button', onclick: () => close() }, t('close'))));
}

function editTags(ctx, c) {
  const tags = new Set(c.tags || []);
  const chips = h('ul', { class: 'chips' });
  const draw = () => chips.replaceChildren(...[...tags].map((tag) => h('li', { class: 'tag' }, tag,
    h('button', { type: 'button', class: 'x', 'aria-label': t('remove_tag', { tag }), onclick: () => { tags.delete(tag); draw(); } }, '×'))));
  draw();
  const input = h('input', { type: 'text', name: 'new_tag', autocomplete: 'off' });
  const add = () => { const v = input.value.trim(); if (v) { tags.add(v); input.value = ''; draw(); } input.focus(); };
  const out = h('div');
  const save = () => {
    const before = new Set(c.tags || []);
    const added = [...tags].filter((x) => !before.has(x));
    const removed = [...before].filter((x) => !tags.has(x));
    const lines = [];
    if (added.length) lines.push({ op: 'tag_add', tags: added, contact: identity(c) });
    if (removed.length) lines.push({ op: 'tag_remove', tags: removed, contact: identity(c) });
    if (!lines.length) { close(); return; }
    apply(ctx, lines, out, close);
  };
  const close = modal(`${t('edit_tags')}: ${c.name || c.external_id}`, h('form', { onsubmit: (e) => { e.preventDefault(); add(); } },
    chips,
    h('div', { class: 'row' }, field(t('add_tag'), input), h('button', { type: 'submit' }, t('add'))),
    out,
    h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'primary', onclick: save }, t('save')),
      h('button', { type: 'button', onclick: () => close() }, t('cancel')))));
}

function unsubscribe(ctx, c) {
  const boxes = KINDS.map((k) => h('input', { type: 'checkbox', name: k, checked: !(c.opt_outs || []).includes(k), disabled: (c.opt_outs || []).includes(k) }));
  const out = h('div');
  const close = modal(`${t('unsubscribe')}: ${c.name || c.external_id}`, h('form', {
    onsubmit: (e) => {
      e.preventDefault();
      const kinds = KINDS.filter((k, i) => boxes[i].checked && !boxes[i].disabled);
      if (kinds.length) apply(ctx, [{ op: 'unsubscribe', kinds, contact: identity(c) }], out, close);
    },
  },
  h('fieldset', {}, h('legend', {}, t('unsubscribe')),
    KINDS.map((k, i) => h('label', { class: 'field check' }, boxes[i], h('span', {}, t(`k_${k}`))))),
  h('p', { class: 'hint' }, t('unsubscribe_help')),
  out,
  h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, t('unsubscribe')),
    h('button', { type: 'button', onclick: () => close() }, t('cancel')))));
}

function resubscribe(ctx, c) {
  const out = h('div');
  const close = modal(`${t('resubscribe')}: ${c.name || c.external_id}`, h('div', {},
    out,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', class: 'primary', onclick: () => apply(ctx, [{ op: 'resubscribe', contact: identity(c) }], out, close) }, t('resubscribe')),
      h('button', { type: 'button', onclick: () => close() }, t('cancel')))));
}

function remove(ctx, c) {
  const out = h('div');
  const confirm = h('button', { type: 'button', class: 'danger', disabled: true,
    onclick: () => apply(ctx, [{ op: 'delete', confirm: 'DELETE', contact: identity(c) }], out, close) }, t('delete_confirm'));
  const input = h('input', { type: 'text', name: 'confirm', autocomplete: 'off', oninput: (e) => { confirm.disabled = e.target.value !== 'DELETE'; } });
  const close = modal(`${t('delete')}: ${c.name || c.external_id}`, h('div', {},
    h('p', {}, t('delete_help')), field(t('delete_label'), input), out,
    h('div', { class: 'buttons' }, confirm, h('button', { type: 'button', onclick: () => close() }, t('cancel')))));
}

// ---- bulk ---------------------------------------------------------------------------

/** The action bar over the filtered contacts (only what the key may do). */
export function bulkBar(ctx) {
  const button = (label, run) => h('button', { type: 'button', onclick: () => run(ctx) }, label);
  return h('div', { class: 'bulk', role: 'group', 'aria-label': t('bulk') },
    ctx.may('broadcast') ? button(t('broadcast'), (x) => broadcast(x, { segment: x.segment() }, null)) : null,
    ctx.may('change') ? button(t('import'), importCsv) : null,
    button(t('export'), exportCsv),
    ctx.may('broadcast') ? button(t('broadcast_csv'), broadcastCsv) : null,
    ctx.may('change') && ctx.channel() === 'whatsapp' ? button(t('wa_add'), whatsappAdd) : null);
}

/** The figures of a preview or a job. */
export function figures(report) {
  const row = (label, n) => h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, number(n ?? 0)));
  const excluded = report.excluded || {};
  return h('table', { class: 'figures' }, h('tbody', {},
    row(t('audience'), report.audience), row(t('eligible'), report.eligible),
    REASONS.filter((r) => excluded[r]).map((r) => row(`${t('excluded')}: ${t(`r_${r}`)}`, excluded[r])),
    report.state !== 'preview' ? [row(t('sent'), report.sent), row(t('failed_n'), report.failed), row(t('uncertain'), report.uncertain)] : null));
}

/** Broadcast: kind and text; Preview shows every exclusion reason; Send starts the job
 * and follows its progress until it ends. `audience` is `{segment}` or `{csv}`; `note`
 * says where it came from. */
function broadcast(ctx, audience, note) {
  const kind = h('select', { name: 'kind' }, [...KINDS, 'welcome', 'bot'].map((k) => h('option', { value: k }, t(`k_${k}`))));
  const text = h('textarea', { name: 'text', rows: 3, required: true }, 'Hi {{name|friend}}');
  const out = h('div', { class: 'report' });
  const send = h('button', { type: 'button', class: 'primary', disabled: true }, t('send'));
  const body = () => ({ ...audience, kind: kind.value, text: text.value });
  // The input's number: only the preview of the input as it stands enables Send, so Send
  // never posts a kind or text that was not previewed.
  let input = 0;
  const preview = async () => {
    const mine = ++input;
    try {
      const report = await call('POST', '/broadcasts', { ...body(), dry_run: true });
      if (mine !== input) return;
      out.replaceChildren(h('h3', {}, t('preview')), figures(report));
      send.disabled = false;
    } catch (e) {
      if (mine !== input) return;
      out.replaceChildren(status(t('failed', { message: e.message }), 'error')); send.disabled = true;
    }
  };
  send.onclick = async () => {
    send.disabled = true;
    try {
      const job = await call('POST', '/broadcasts', body());
      follow(ctx, job.job, out);
    } catch (e) { out.replaceChildren(status(t('failed', { message: e.message }), 'error')); }
  };
  kind.onchange = text.oninput = () => { input++; send.disabled = true; };
  modal(t('broadcast'), h('form', { onsubmit: (e) => { e.preventDefault(); preview(); } },
    note, audience.segment !== undefined ? h('p', { class: 'hint' }, h('code', {}, audience.segment)) : null,
    field(t('kind'), kind), field(t('text'), text),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, t('preview')), send),
    out));
}

/** Polls a job until it is no longer sending (or its dialog is closed), showing its
 * figures as they move. */
async function follow(ctx, id, out) {
  for (;;) {
    let job;
    try { job = await call('GET', `/broadcasts/${encodeURIComponent(id)}`); } catch (e) {
      out.replaceChildren(status(t('failed', { message: e.message }), 'error')); return;
    }
    const done = (job.sent || 0) + (job.failed || 0) + (job.uncertain || 0);
    out.replaceChildren(h('h3', {}, `${t('job')} ${id}: `, h('span', { class: `badge ${job.state}`, 'data-state': job.state }, job.state)),
      h('progress', { max: Math.max(job.eligible || 0, 1), value: done, 'aria-label': t('sent') }),
      figures(job));
    if (job.state !== 'sending') { ctx.changed(); return; }
    await new Promise((r) => setTimeout(r, 400));
    if (!out.isConnected) return; // the dialog was closed: the jobs list follows it from here
  }
}

async function readFile(input) {
  const file = input.files && input.files[0];
  return file ? file.text() : null;
}

function importCsv(ctx) {
  const file = h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv', required: true });
  const mode = h('select', { name: 'mode' }, h('option', { value: 'all_or_nothing' }, t('all_or_nothing')), h('option', { value: 'reject' }, t('reject')));
  const out = h('div');
  modal(t('import'), h('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const text = await readFile(file);
      if (text === null) return;
      try {
        const summary = await call('POST', `/import?mode=${mode.value}`, text, { type: 'text/csv' });
        out.replaceChildren(status(t('imported')), h('pre', { class: 'summary' }, JSON.stringify(summary, null, 2)));
        ctx.changed();
      } catch (err) { out.replaceChildren(status(t('failed', { message: err.message }), 'error')); }
    },
  }, field(t('csv_file'), file), field(t('import_mode'), mode), h('button', { type: 'submit', class: 'primary' }, t('import')), out));
}

async function exportCsv(ctx) {
  try {
    const blob = await call('POST', '/export', { segment: ctx.segment() }, { as: 'blob' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `${ctx.channel()}-${ctx.account()}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  } catch (e) {
    modal(t('export'), status(t('failed', { message: e.message }), 'error'));
  }
}

/** How many identities an audience CSV names (its lines after the header). */
function csvRows(text) {
  return Math.max(text.split(/\r?\n/).filter((l) => l.trim()).length - 1, 0);
}

function broadcastCsv(ctx) {
  const file = h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv', required: true });
  const out = h('div');
  modal(t('broadcast_csv'), h('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const text = await readFile(file);
      if (!text || !csvRows(text)) { out.replaceChildren(status(t('csv_audience'), 'error')); return; }
      broadcast(ctx, { csv: text }, h('p', {}, t('csv_contacts', { n: number(csvRows(text)) })));
    },
  }, field(t('csv_audience'), file), out, h('button', { type: 'submit', class: 'primary' }, t('preview'))));
}

function whatsappAdd(ctx) {
  const name = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' });
  const phone = h('input', { type: 'tel', name: 'phone', required: true, autocomplete: 'off', placeholder: '+886912345678' });
  const out = h('div');
  const close = modal(t('wa_add'), h('form', {
    onsubmit: (e) => {
      e.preventDefault();
      const number_ = phone.value.replace(/[\s().-]/g, '');
      if (!/^\+\d{8,15}$/.test(number_)) { out.replaceChildren(status(t('wa_bad_phone'), 'error')); return; }
      const contact = { channel: 'whatsapp', account: ctx.account(), external_id: number_, name: name.value.trim(), phone: number_ };
      apply(ctx, [{ op: 'upsert', contact }], out, close);
    },
  }, field(t('wa_name'), name), field(t('wa_phone'), phone), out,
  h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, t('add')), h('button', { type: 'button', onclick: () => close() }, t('cancel')))));
}

// ---- manage tags ------------------------------------------------------------------

/** Every tag with its contact count and creation time: search, sort, page size, add,
 * select several and delete. */
export function manageTags(ctx) {
  const q = { search: '', sort: 'count', page: 1, page_size: 20 };
  const selected = new Set();
  const list = h('div');
  const out = h('div');
  let asked = 0; // as for the count: only the latest request's answer is shown
  const draw = async () => {
    const mine = ++asked;
    const params = new URLSearchParams({ search: q.search, sort: q.sort, page: q.page, page_size: q.page_size });
    let answer;
    try { answer = await call('GET', `/tags?${params}`); } catch (e) { out.replaceChildren(status(t('failed', { message: e.message }), 'error')); return; }
    if (mine !== asked) return;
    list.replaceChildren(
      h('p', {}, t('tags_total', { n: number(answer.total) })),
      h('table', { class: 'tags-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('select')), h('th', { scope: 'col' }, t('tag')), h('th', { scope: 'col' }, t('contacts')), h('th', { scope: 'col' }, t('created')))),
        h('tbody', {}, answer.tags.map((tag) => h('tr', {},
          h('td', {}, h('input', { type: 'checkbox', checked: selected.has(tag.name), 'aria-label': t('select_tag', { tag: tag.name }),
            onchange: (e) => { if (e.target.checked) selected.add(tag.name); else selected.delete(tag.name); } })),
          h('td', {}, tag.name), h('td', {}, number(tag.contacts)), h('td', {}, when(tag.created_at)))))),
      h('nav', { class: 'pages' },
        h('button', { type: 'button', disabled: q.page <= 1, onclick: () => { q.page -= 1; draw(); } }, t('prev')),
        h('span', {}, t('page', { page: q.page })),
        h('button', { type: 'button', disabled: q.page >= answer.pages, onclick: () => { q.page += 1; draw(); } }, t('next'))));
  };
  const search = h('input', { type: 'search', name: 'tag_search', oninput: (e) => { q.search = e.target.value; q.page = 1; draw(); } });
  const sort = h('select', { name: 'sort', onchange: (e) => { q.sort = e.target.value; q.page = 1; draw(); } },
    [['count', 's_count_desc'], ['-count', 's_count_asc'], ['created', 's_created_desc'], ['-created', 's_created_asc']]
      .map(([v, k]) => h('option', { value: v }, t(k))));
  const size = h('select', { name: 'tag_page_size', onchange: (e) => { q.page_size = Number(e.target.value); q.page = 1; draw(); } },
    [20, 50, 100].map((n) => h('option', { value: n }, n)));
  const newTag = h('input', { type: 'text', name: 'new_tag', autocomplete: 'off' });
  const run = async (method, tags) => {
    try {
      await call(method, '/tags', { tags });
      out.replaceChildren(status(t('done', { changed: tags.length })));
      selected.clear();
      await draw();
      ctx.changed();
    } catch (e) { out.replaceChildren(status(t('failed', { message: e.message }), 'error')); }
  };
  const writes = ctx.may('change');
  modal(t('manage_tags'), h('div', { class: 'manage-tags' },
    h('div', { class: 'row' }, field(t('tag_search'), search), field(t('sort'), sort), field(t('per_page'), size)),
    writes ? h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); const v = newTag.value.trim(); if (v) { newTag.value = ''; run('POST', [v]); } } },
      field(t('new_tag'), newTag), h('button', { type: 'submit' }, t('add'))) : null,
    writes ? h('button', { type: 'button', class: 'danger', onclick: () => { if (selected.size) run('DELETE', [...selected]); } }, t('delete_selected')) : null,
    out, list,
    h('button', { type: 'button', onclick: () => document.getElementById('dialog').close() }, t('close'))));
  draw();
}

// ---- broadcast jobs -----------------------------------------------------------------

/** Each job's state and figures, its report, resume or cancel. */
export async function jobs(ctx) {
  const body = h('div', { class: 'jobs' });
  const draw = async () => {
    let list;
    try { list = await call('GET', '/broadcasts'); } catch (e) { body.replaceChildren(status(t('failed', { message: e.message }), 'error')); return; }
    if (!list.length) { body.replaceChildren(status(t('no_jobs'))); return; }
    const act = (label, path) => h('button', { type: 'button', class: 'small', onclick: async () => {
      try { await call('POST', path); } catch (e) { body.prepend(status(t('failed', { message: e.message }), 'error')); }
      draw();
    } }, label);
    body.replaceChildren(...list.map((job) => h('details', { class: 'job' },
      h('summary', {}, h('strong', {}, job.job), ' ', h('span', { class: `badge ${job.state}` }, job.state), ' ',
        `${t('sent')} ${number(job.sent || 0)} / ${number(job.eligible || 0)}`),
      figures(job),
      ctx.may('broadcast') && job.state === 'sending'
        ? h('div', { class: 'buttons' },
          act(t('resume'), `/broadcasts/${encodeURIComponent(job.job)}/resume`),
          act(t('cancel_job'), `/broadcasts/${encodeURIComponent(job.job)}/cancel`))
        : null)));
  };
  modal(t('jobs'), h('div', {}, body, h('button', { type: 'button', onclick: () => document.getElementById('dialog').close() }, t('close'))));
  draw();
}
