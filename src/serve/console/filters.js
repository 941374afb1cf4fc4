// The filter panel's form (console.md item 5): one control per filter of the tab
// (panel.js says which), reading and writing panel state. `render(state, channel,
// onChange)` builds it; `fill(form, state)` sets its controls from state (after the
// segment text was typed) without rebuilding, so focus and caret stay put.

import { h, field } from './dom.js';
import { filtersOf, empty } from './panel.js';
import { t } from './i18n.js';

function choice(name, value, options) {
  return h('select', { name }, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

const YES_NO = () => [['', t('any')], ['yes', t('yes')], ['no', t('no')]];
const WHICH = { interaction: 'i_customer', team_interaction: 'i_team', marketing: 'i_marketing' };

function control(f, state) {
  const v = state[f.id];
  const label = t(`f_${f.id}`);
  switch (f.kind) {
    case 'text': return field(label, h('input', { name: f.id, type: 'text', value: v, autocomplete: 'off' }));
    case 'tags': return field(label, h('input', { name: f.id, type: 'text', value: v.join(', '), placeholder: t('tags_hint'), autocomplete: 'off' }));
    case 'flag': return field(label, choice(f.id, v, YES_NO()));
    case 'exclude': return h('label', { class: 'field check' }, h('input', { type: 'checkbox', name: f.id, checked: v }), h('span', {}, label));
    case 'status': return field(label, choice(f.id, v, [['', t('any')], ['subscribed', t('subscribed')], ['unsubscribed', t('unsubscribed')]]));
    case 'range': return h('fieldset', { class: 'range' },
      h('legend', {}, label),
      f.choices ? field(t('f_interaction'), choice(`${f.id}.which`, v.which, f.choices.map((c) => [c, t(WHICH[c])]))) : null,
      field(t('from'), h('input', { type: 'date', name: `${f.id}.from`, value: v.from })),
      field(t('to'), h('input', { type: 'date', name: `${f.id}.to`, value: v.to })));
    default: return null;
  }
}

/** The form for the tab; `onChange(state)` is called with the form's state on every
 * input (its `extra` is empty: the caller keeps the terms the panel cannot show). */
export function render(state, channel, onChange) {
  const form = h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() },
    filtersOf(channel).map((f) => control(f, state)));
  form.addEventListener('input', () => onChange(read(form)));
  form.addEventListener('change', () => onChange(read(form)));
  return form;
}

/** The form's values as panel state. */
function read(form) {
  const state = empty();
  for (const el of form.elements) {
    if (!el.name) continue;
    const [id, part] = el.name.split('.');
    if (part) state[id] = { ...state[id], [part]: el.value };
    else if (el.type === 'checkbox') state[id] = el.checked;
    else if (Array.isArray(state[id])) state[id] = el.value.split(',').map((s) => s.trim()).filter(Boolean);
    else state[id] = el.value;
  }
  return state;
}

/** Sets the form's controls from state. */
export function fill(form, state) {
  for (const el of form.elements) {
    if (!el.name || el === document.activeElement) continue;
    const [id, part] = el.name.split('.');
    const v = part ? state[id][part] : state[id];
    if (el.type === 'checkbox') el.checked = Boolean(v);
    else el.value = Array.isArray(v) ? v.join(', ') : v;
  }
}
