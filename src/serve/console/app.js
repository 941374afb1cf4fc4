// The console's page: the key (when the server asks for one), channel tabs and accounts,
// totals and quota, the filter panel and the segment text kept in step, the live count
// (the latest input's answer wins), the list, and the action bar. Actions live in
// actions.js; the API in api.js; panel <-> text in panel.js.

import { call, key, ApiError } from './api.js';
import { h, field, status } from './dom.js';
import { empty, read, write, quote, CHANNELS } from './panel.js';
import { render as renderFilters, fill } from './filters.js';
import { table, Pager } from './list.js';
import { t, number, lang, setLang, languages } from './i18n.js';
import * as actions from './actions.js';

const PAGE_SIZES = [20, 50, 100];

const state = {
  grant: null, // {actions, accounts} from GET /accounts
  quotas: [],
  channel: null,
  account: null,
  panel: empty(),
  text: '',
  pageSize: 20,
  pager: new Pager(),
};
const ui = {};
let seq = 0; // the latest input's number: only its answers are shown
let inflight = null; // its AbortController

/** The tab and account as a segment, and the whole segment the page asks about. */
function base() {
  return `channel:${state.channel} account:${quote(state.account)}`;
}
function segment() {
  if (!state.text.trim()) return base();
  const stray = strayClose(state.text);
  if (stray >= 0) {
    const at = new TextEncoder().encode(`${base()} (${state.text.slice(0, stray)}`).length;
    throw new ApiError(400, { error: { kind: 'segment', message: t('stray_paren'), span: [at, at + 1], help: t('stray_paren_help') } });
  }
  return `${base()} (${state.text})`;
}

/** Where the typed text closes a parenthesis it never opened (outside quoted strings),
 * or -1: inside the page's own parentheses such a text would reach past the tab and
 * account (`tag:a) or (channel:web`). */
function strayClose(text) {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')' && --depth < 0) return i;
  }
  return -1;
}
const may = (action) => Boolean(state.grant && state.grant.actions.includes(action));

/** What actions.js may see and do: the page's segment, and what to redo after a change. */
const ctx = {
  segment, may, setText, changed, refresh,
  channel: () => state.channel,
  account: () => state.account,
};

async function start() {
  document.documentElement.lang = lang();
  document.title = t('title');
  try {
    state.grant = await call('GET', '/accounts');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return askKey(key.get() ? e.message : null);
    return fatal(e);
  }
  try { state.quotas = await call('GET', '/quota'); } catch { state.quotas = []; }
  const channels = tabs();
  state.channel = channels.includes(state.channel) ? state.channel : channels[0] || null;
  pickAccount();
  layout();
}

function fatal(e) {
  document.getElementById('app').replaceChildren(status(t('failed', { message: e.message }), 'error'));
}

/** The key form; `refused` is the server's message for a key it turned down. */
function askKey(refused) {
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true });
  const form = h('form', { class: 'key', onsubmit: (e) => { e.preventDefault(); key.set(input.value.trim()); start(); } },
    h('h1', {}, t('key_title')),
    field(t('key_label'), input),
    refused ? status(t('key_wrong', { message: refused }), 'error') : null,
    h('button', { type: 'submit' }, t('key_submit')),
    languagePicker());
  document.getElementById('app').replaceChildren(h('main', {}, form));
  input.focus();
}

/** The channels the key reaches, in the seed's order. */
function tabs() {
  const reached = new Set(state.grant.accounts.map((a) => a.channel));
  return CHANNELS.filter((c) => reached.has(c));
}
function accountsOf(channel) {
  return state.grant.accounts.filter((a) => a.channel === channel);
}
function pickAccount() {
  const list = accountsOf(state.channel);
  if (!list.some((a) => a.account === state.account)) state.account = list.length ? list[0].account : null;
}

function languagePicker() {
  return field(t('language'), h('select', { name: 'language', onchange: (e) => { setLang(e.target.value); start(); } },
    languages.map(([code, name]) => h('option', { value: code, selected: code === lang() }, name))));
}

/** Builds the whole page for the current tab. */
function layout() {
  const app = document.getElementById('app');
  if (!state.channel) { app.replaceChildren(h('main', {}, status(t('none')))); return; }
  ui.count = h('output', { class: 'count', 'aria-live': 'polite' }, t('counting'));
  ui.list = h('div', { class: 'list' });
  ui.pages = h('nav', { class: 'pages', 'aria-label': t('pages') });
  ui.error = h('div', { class: 'segment-error', id: 'segment-error' });
  ui.extra = h('p', { class: 'hint', hidden: !state.panel.extra }, t('segment_extra'));
  ui.text = h('textarea', { name: 'segment', rows: 2, spellcheck: false, 'aria-describedby': 'segment-help segment-error', oninput: onText }, state.text);
  ui.filters = renderFilters(state.panel, state.channel, onPanel);
  app.replaceChildren(
    header(),
    h('main', {},
      h('section', { class: 'top' }, accountBar(), totals()),
      h('div', { class: 'workspace' },
        h('section', { class: 'panel', 'aria-labelledby': 'filters-title' },
          // Folded on a phone (the count and list come right after it), open elsewhere.
          h('details', { open: !matchMedia('(max-width: 700px)').matches },
            h('summary', {}, h('h2', { id: 'filters-title' }, t('filters'))),
            ui.filters,
            h('button', { type: 'button', class: 'link', onclick: () => setText('') }, t('clear')))),
        h('section', { class: 'results' },
          h('label', { class: 'field segment' }, h('span', {}, t('segment')), ui.text),
          h('p', { class: 'hint', id: 'segment-help' }, t('segment_help')),
          ui.extra, ui.error,
          h('div', { class: 'countbar' }, ui.count, actions.bulkBar(ctx)),
          ui.list, ui.pages))));
  refresh();
}

function header() {
  return h('header', {},
    h('h1', {}, t('title')),
    h('nav', { class: 'tabs', role: 'tablist', 'aria-label': t('channels') },
      tabs().map((c) => h('button', {
        type: 'button', role: 'tab', 'aria-selected': String(c === state.channel), class: 'tab',
        onclick: () => { state.channel = c; state.panel = read(state.text, c).state; pickAccount(); state.pager.reset(); layout(); },
      }, t(c)))),
    h('div', { class: 'tools' },
      h('button', { type: 'button', onclick: () => actions.manageTags(ctx) }, t('manage_tags')),
      h('button', { type: 'button', onclick: () => actions.jobs(ctx) }, t('jobs')),
      languagePicker(),
      key.get() ? h('button', { type: 'button', class: 'link', onclick: () => { key.clear(); start(); } }, t('sign_out')) : null));
}

function accountBar() {
  const select = h('select', { name: 'account', onchange: (e) => { state.account = e.target.value; state.pager.reset(); layout(); } },
    accountsOf(state.channel).map((a) => h('option', { value: a.account, selected: a.account === state.account }, a.account)));
  const quota = state.channel === 'line' ? state.quotas.find((q) => q.account === state.account) : null;
  return h('div', { class: 'account' }, field(t('account'), select),
    state.channel === 'line'
      ? h('p', { class: 'quota' }, `${t('quota')}: `, quota ? `${number(quota.used)} / ${number(quota.plan + quota.purchased)}` : t('quota_none'))
      : null);
}

function totals() {
  const a = accountsOf(state.channel).find((x) => x.account === state.account);
  const item = (label, n) => h('div', {}, h('dt', {}, label), h('dd', {}, number(n)));
  return h('dl', { class: 'totals' }, item(t('total'), a.total), item(t('subscribed'), a.subscribed), item(t('unsubscribed'), a.unsubscribed));
}

/** The panel changed: it writes the text (keeping the typed terms it cannot show). */
function onPanel(panel) {
  state.panel = { ...panel, extra: state.panel.extra };
  state.text = write(state.panel, state.channel);
  ui.text.value = state.text;
  ui.extra.hidden = !state.panel.extra;
  state.pager.reset();
  refresh();
}

/** The text was typed: it sets the panel (terms the panel cannot show stay in the text). */
function onText() {
  state.text = ui.text.value;
  const { state: panel } = read(state.text, state.channel);
  state.panel = panel;
  fill(ui.filters, panel);
  ui.extra.hidden = !panel.extra;
  state.pager.reset();
  refresh();
}

/** Sets the text (and so the panel) from outside: "clear", "show unsubscribed". */
function setText(text) {
  ui.text.value = text;
  onText();
}

/** Asks for the count and the list page of the current input; older answers are dropped. */
async function refresh() {
  const mine = ++seq;
  if (inflight) inflight.abort();
  const controller = new AbortController();
  inflight = controller;
  const signal = controller.signal;
  ui.count.textContent = t('counting');
  ui.count.classList.add('busy');
  const started = performance.now();
  let asked = '';
  try {
    asked = segment();
    const counted = await call('POST', '/count', { segment: asked }, { signal });
    if (mine !== seq) return;
    showCount(counted.count, performance.now() - started, asked);
    ui.error.replaceChildren();
    ui.text.removeAttribute('aria-invalid');
    const page = await call('POST', '/list', { segment: asked, limit: state.pageSize, after: state.pager.after || undefined }, { signal });
    if (mine !== seq) return;
    showPage(page, asked);
  } catch (e) {
    if (mine !== seq || e.name === 'AbortError') return;
    ui.count.classList.remove('busy');
    ui.count.textContent = '—';
    ui.list.replaceChildren();
    ui.pages.replaceChildren();
    showError(e);
  }
}

/** The count of `asked` (kept on the element: what the number is the answer to). */
function showCount(count, ms, asked) {
  ui.count.classList.remove('busy');
  ui.count.dataset.count = String(count);
  ui.count.dataset.segment = asked;
  ui.count.replaceChildren(h('strong', {}, t('count', { count: number(count) })), ' ', h('small', {}, t('count_time', { ms: Math.round(ms) })));
}

function showPage(page, asked) {
  state.pager.next = page.next || null;
  ui.list.dataset.segment = asked;
  ui.list.dataset.page = String(state.pager.page);
  ui.list.replaceChildren(page.contacts.length
    ? table(state.channel, page.contacts, may('change') ? (c) => actions.contactMenu(ctx, c) : null)
    : status(t('none')));
  const sizes = h('select', { name: 'page_size', onchange: (e) => { state.pageSize = Number(e.target.value); state.pager.reset(); refresh(); } },
    PAGE_SIZES.map((n) => h('option', { value: n, selected: n === state.pageSize }, n)));
  ui.pages.replaceChildren(
    h('button', { type: 'button', disabled: state.pager.page === 1, onclick: () => { state.pager.back(); refresh(); } }, t('prev')),
    h('span', {}, t('page', { page: state.pager.page })),
    h('button', { type: 'button', disabled: !page.next, onclick: () => { state.pager.forward(); refresh(); } }, t('next')),
    field(t('per_page'), sizes));
}

/** A segment error: the message, the typed text with the span underlined, the suggestion. */
function showError(e) {
  if (e.kind !== 'segment' || !e.span) { ui.error.replaceChildren(status(t('failed', { message: e.message }), 'error')); return; }
  ui.text.setAttribute('aria-invalid', 'true');
  const [from, to] = textSpan(e.span);
  const text = state.text;
  ui.error.replaceChildren(h('div', { role: 'alert' },
    h('p', { class: 'message' }, e.message),
    h('pre', { class: 'excerpt' }, text.slice(0, from), h('mark', {}, text.slice(from, Math.max(to, from + 1)) || ' '), text.slice(Math.max(to, from + 1))),
    e.help ? h('p', { class: 'help' }, e.help) : null));
}

/** The error's byte span in the sent segment as character offsets in the typed text. */
function textSpan([start, end]) {
  const prefix = new TextEncoder().encode(`${base()} (`).length;
  const bytes = new TextEncoder().encode(state.text);
  const at = (b) => new TextDecoder().decode(bytes.slice(0, Math.min(Math.max(b - prefix, 0), bytes.length))).length;
  return [at(start), at(end)];
}

/** After an action: the totals, the count and the list show its result. */
async function changed() {
  try { state.grant = await call('GET', '/accounts'); } catch { /* keep the old totals */ }
  if (!accountsOf(state.channel).length) { start(); return; }
  pickAccount();
  const top = document.querySelector('.totals');
  if (top) top.replaceWith(totals());
  refresh();
}

start();
