// The filter panel and the segment text as two views of one segment
// (segment-language.md). `write(state, channel)` turns the panel into text;
// `read(text, channel)` turns text back into panel state where every term is one the
// panel shows, and keeps the others (`extra`) verbatim so that no typed term is lost.

export const CHANNELS = ['line', 'facebook', 'whatsapp', 'instagram', 'web'];

/** The filters, in the panel's order: id, kind, the segment field, channels (none: every tab). */
export const FILTERS = [
  { id: 'name', kind: 'text', field: 'name' },
  { id: 'tags_in', kind: 'tags', field: 'tag' },
  { id: 'tags_out', kind: 'tags', field: 'tag', negated: true },
  { id: 'checkout', kind: 'range', field: 'checkout' },
  { id: 'interaction', kind: 'range', field: 'interaction', choices: ['interaction', 'team_interaction', 'marketing'] },
  { id: 'bound', kind: 'flag', field: 'is', value: 'bound', channels: ['facebook', 'line', 'whatsapp'] },
  { id: 'over_quota', kind: 'exclude', field: 'is', value: 'over_quota' },
  { id: 'joined', kind: 'range', field: 'joined' },
  { id: 'status', kind: 'status' },
  { id: 'fb_optin', kind: 'flag', field: 'is', value: 'fb_optin', channels: ['facebook'] },
  { id: 'fb_sendable', kind: 'flag', field: 'is', value: 'fb_sendable', channels: ['facebook'] },
  { id: 'app91', kind: 'flag', field: 'is', value: 'app91_bound', channels: ['line'] },
  { id: 'email', kind: 'text', field: 'email', channels: ['web'] },
  { id: 'has_email', kind: 'flag', field: 'has', value: 'email', channels: ['web'] },
  { id: 'phone', kind: 'text', field: 'phone', channels: ['whatsapp', 'web'] },
  { id: 'has_phone', kind: 'flag', field: 'has', value: 'phone', channels: ['web'] },
  { id: 'member_id', kind: 'text', field: 'member_id', channels: ['web'] },
  { id: 'has_member_id', kind: 'flag', field: 'has', value: 'member_id', channels: ['web'] },
  { id: 'store', kind: 'text', field: 'store', channels: ['line', 'whatsapp'] },
  { id: 'salesperson', kind: 'text', field: 'salesperson', channels: ['line', 'whatsapp'] },
];

export function filtersOf(channel) {
  return FILTERS.filter((f) => !f.channels || f.channels.includes(channel));
}

/** An empty panel. */
export function empty() {
  const state = { extra: '' };
  for (const f of FILTERS) {
    if (f.kind === 'tags') state[f.id] = [];
    else if (f.kind === 'range') state[f.id] = { from: '', to: '', which: f.choices ? f.choices[0] : f.field };
    else if (f.kind === 'exclude') state[f.id] = false;
    else state[f.id] = '';
  }
  return state;
}

/** A value as the language reads it: bare when it can be, else quoted. */
export function quote(value) {
  return value !== '' && !/[\s()",|&]/.test(value) && !/^[-!]/.test(value)
    ? value
    : `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function range(from, to) {
  if (from && to) return from === to ? from : `${from}..${to}`;
  if (from) return `${from}..`;
  if (to) return `..${to}`;
  return '';
}

/** The panel as segment text (the tab's channel decides which filters count). */
export function write(state, channel) {
  const terms = [];
  for (const f of filtersOf(channel)) {
    const v = state[f.id];
    switch (f.kind) {
      case 'text': if (v.trim()) terms.push(`${f.field}:${quote(v.trim())}`); break;
      case 'tags': if (v.length) terms.push(`${f.negated ? '-' : ''}tag:${v.map(quote).join(',')}`); break;
      case 'range': { const r = range(v.from, v.to); if (r) terms.push(`${v.which}:${r}`); break; }
      case 'flag': if (v) terms.push(`${v === 'no' ? '-' : ''}${f.field}:${f.value}`); break;
      case 'exclude': if (v) terms.push(`-${f.field}:${f.value}`); break;
      case 'status': if (v) terms.push(`is:${v}`); break;
    }
  }
  if (state.extra.trim()) terms.push(state.extra.trim());
  return terms.join(' ');
}

/** Splits text into terms; null when it has structure the panel cannot hold (parentheses, or). */
function terms(text) {
  const out = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    if ('()|'.includes(c)) return null;
    if (c === '&') { i++; continue; }
    let j = i, quoted = false;
    while (j < text.length) {
      const d = text[j];
      if (quoted) { if (d === '\\') j++; else if (d === '"') quoted = false; }
      else if (d === '"') quoted = true;
      else if (/\s/.test(d) || '()|&'.includes(d)) break;
      j++;
    }
    const term = text.slice(i, j);
    if (/^(or|not)$/i.test(term)) return null;
    if (!/^(and)$/i.test(term)) out.push(term);
    i = j;
  }
  return out;
}

/** A comma list's values, unquoted; null when malformed. */
function values(text) {
  const out = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '"') {
      let j = i + 1, v = '';
      while (j < text.length && text[j] !== '"') { if (text[j] === '\\') j++; v += text[j] ?? ''; j++; }
      if (j >= text.length) return null;
      out.push(v);
      i = j + 1;
    } else {
      let j = text.indexOf(',', i);
      if (j < 0) j = text.length;
      out.push(text.slice(i, j));
      i = j;
    }
    if (i >= text.length) break;
    if (text[i] !== ',') return null;
    i++;
  }
  return out;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const ALIASES = { last_checkout: 'checkout', customer_interaction: 'interaction', team_marketing: 'marketing', subscribed_at: 'joined' };

function parseRange(text) {
  const [v] = values(text) || [];
  if (v === undefined || (values(text) || []).length !== 1) return null;
  if (DATE.test(v)) return { from: v, to: v };
  const m = /^([^.]*)\.\.([^.]*)$/.exec(v);
  if (!m || (m[1] && !DATE.test(m[1])) || (m[2] && !DATE.test(m[2])) || (!m[1] && !m[2])) return null;
  return { from: m[1], to: m[2] };
}

/** Applies one term to the state; false when the panel has no place for it. */
function apply(state, term, channel) {
  const negated = /^[-!]/.test(term);
  const body = negated ? term.slice(1) : term;
  const colon = body.indexOf(':');
  if (colon <= 0) return false;
  let field = body.slice(0, colon).toLowerCase();
  field = ALIASES[field] || field;
  const raw = body.slice(colon + 1);
  const list = values(raw);
  if (!list || !list.length) return false;
  const shown = filtersOf(channel);
  const has = (id) => shown.some((f) => f.id === id);
  if (field === 'tag') {
    const id = negated ? 'tags_out' : 'tags_in';
    if (state[id].length) return false;
    state[id] = list;
    return true;
  }
  if (['checkout', 'joined', 'interaction', 'team_interaction', 'marketing'].includes(field)) {
    const id = ['checkout', 'joined'].includes(field) ? field : 'interaction';
    const r = parseRange(raw);
    if (negated || !r || state[id].from || state[id].to) return false;
    state[id] = { ...r, which: field };
    return true;
  }
  if (field === 'is' || field === 'has') {
    if (list.length !== 1) return false;
    const value = list[0].toLowerCase();
    if (field === 'is' && (value === 'subscribed' || value === 'unsubscribed') && !negated && !state.status) {
      state.status = value;
      return true;
    }
    const f = shown.find((x) => x.field === field && x.value === value);
    if (!f) return false;
    if (f.kind === 'exclude') { if (!negated || state[f.id]) return false; state[f.id] = true; return true; }
    if (state[f.id]) return false;
    state[f.id] = negated ? 'no' : 'yes';
    return true;
  }
  const f = shown.find((x) => x.kind === 'text' && x.field === field);
  if (!f || negated || list.length !== 1 || state[f.id] || !has(f.id)) return false;
  state[f.id] = list[0];
  return true;
}

/** Text as panel state: `{state, whole}` (whole: every term found a place in the panel). */
export function read(text, channel) {
  const state = empty();
  const list = terms(text);
  if (list === null) { state.extra = text.trim(); return { state, whole: !state.extra }; }
  const extra = [];
  for (const term of list) if (!apply(state, term, channel)) extra.push(term);
  state.extra = extra.join(' ');
  return { state, whole: extra.length === 0 };
}
