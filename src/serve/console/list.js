// The contact list (console.md item 7): the seed's columns for the tab, paged with the
// API's `after` cursor (a stack of cursors makes "previous" exact).

import { h } from './dom.js';
import { t, when } from './i18n.js';

/** Columns per tab, as the seed lists them. */
export const COLUMNS = {
  facebook: ['avatar', 'name', 'tags', 'interaction', 'bound', 'fb_optin', 'joined', 'status'],
  line: ['avatar', 'name', 'tags', 'interaction', 'bound', 'joined', 'status', 'store'],
  whatsapp: ['name', 'phone', 'tags', 'interaction', 'bound', 'joined', 'status', 'store'],
  instagram: ['avatar', 'name', 'tags', 'interaction', 'joined', 'status'],
  web: ['name', 'member_id', 'email', 'phone', 'tags', 'joined', 'status', 'interaction'],
};

/** data-model.md: subscribed ⇔ not blocked and no `broadcast` opt-out. */
export function statusOf(c) {
  if (c.blocked) return 'blocked';
  return (c.opt_outs || []).includes('broadcast') ? 'unsubscribed' : 'subscribed';
}

function initials(name) {
  return (name || '?').trim().slice(0, 1).toUpperCase() || '?';
}

function cell(column, c) {
  switch (column) {
    case 'avatar': {
      const letter = () => h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(c.name));
      if (!c.avatar_url) return letter();
      const img = h('img', { src: c.avatar_url, alt: '', width: 32, height: 32, class: 'avatar', loading: 'lazy' });
      img.onerror = () => img.replaceWith(letter());
      return img;
    }
    case 'name': return c.name || '—';
    case 'tags': return h('span', { class: 'tags' }, (c.tags || []).map((tag) => h('span', { class: 'tag' }, tag)));
    case 'interaction': return when(c.customer_interaction_at);
    case 'bound': return c.bound ? t('yes') : t('no');
    case 'fb_optin': return c.fb_optin ? t('yes') : t('no');
    case 'joined': return when(c.subscribed_at);
    case 'status': { const s = statusOf(c); return h('span', { class: `badge ${s}` }, t(s)); }
    case 'store': return [c.store, c.salesperson && `(${c.salesperson})`].filter(Boolean).join(' ') || '—';
    default: return c[column] || '—';
  }
}

/** The table of one page; `actions(contact)` gives each row's action control, or null. */
export function table(channel, contacts, actions) {
  const columns = COLUMNS[channel];
  const head = h('tr', {}, columns.map((col) => h('th', { scope: 'col' }, t(`c_${col}`))),
    actions ? h('th', { scope: 'col' }, t('c_actions')) : null);
  const rows = contacts.map((c) => h('tr', { 'data-id': c.external_id },
    columns.map((col) => h('td', { 'data-label': t(`c_${col}`), class: `col-${col}` }, cell(col, c))),
    actions ? h('td', { class: 'col-actions' }, actions(c)) : null));
  return h('table', { class: 'contacts' }, h('thead', {}, head), h('tbody', {}, rows));
}

/** Paging by cursor: `cursors[i]` is the `after` of page i+1 (page 1: none). */
export class Pager {
  constructor() { this.reset(); }
  reset() { this.cursors = [null]; this.index = 0; this.next = null; }
  get after() { return this.cursors[this.index]; }
  get page() { return this.index + 1; }
  forward() { if (this.next) { this.cursors[this.index + 1] = this.next; this.index += 1; } }
  back() { if (this.index > 0) this.index -= 1; }
}
