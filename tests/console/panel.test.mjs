// panel.js without a browser: the panel and the segment text as two views of one
// segment — text the panel can hold comes back unchanged, and no typed term is lost.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read, write, empty, quote } from '../../src/serve/console/panel.js';

test('text the panel holds is written back as typed', () => {
  const cases = [
    ['line', 'name:"kelly liu" tag:vip,gold -tag:churned checkout:2025-01-01..2025-06-30 is:bound -is:over_quota joined:..2024-12-31 is:unsubscribed is:app91_bound store:taipei-101 salesperson:E001'],
    ['facebook', 'interaction:2026-01-01.. -is:bound is:fb_optin is:fb_sendable'],
    ['whatsapp', 'marketing:2026-03-01 phone:+886912345678 is:subscribed'],
    ['web', 'email:a@example.com -has:email has:phone member_id:M1 -has:member_id team_interaction:..2026-01-01'],
    ['instagram', 'tag:"雙11 會員"'],
  ];
  for (const [channel, text] of cases) {
    const { state, whole } = read(text, channel);
    assert.ok(whole, `${channel}: ${text} -> extra ${state.extra}`);
    const again = write(state, channel);
    assert.deepEqual(read(again, channel).state, state, `${channel}: ${again}`);
    assert.equal(write(read(again, channel).state, channel), again);
  }
});

test('terms the panel cannot hold are kept verbatim', () => {
  for (const [channel, text, extra] of [
    ['line', 'tag:vip @recent_buyers', '@recent_buyers'],
    ['line', 'tag:a tag:b', 'tag:b'],
    ['line', 'email:x@example.com', 'email:x@example.com'], // a Web filter, on LINE
    ['web', 'checkout:-30d..', 'checkout:-30d..'], // relative times have no date control
    ['line', '(tag:vip or tag:gold) is:bound', '(tag:vip or tag:gold) is:bound'],
  ]) {
    const { state } = read(text, channel);
    assert.equal(state.extra, extra, text);
    assert.ok(write(state, channel).includes(extra), text);
  }
});

test('values are quoted when the language needs it', () => {
  assert.equal(quote('vip'), 'vip');
  assert.equal(quote('雙11 會員'), '"雙11 會員"');
  assert.equal(quote('R&D'), '"R&D"');
  assert.equal(quote('-x'), '"-x"');
  assert.equal(quote('say "hi"'), '"say \\"hi\\""');
  const state = { ...empty(), tags_in: ['a,b', 'c'] };
  assert.equal(write(state, 'line'), 'tag:"a,b",c');
  assert.deepEqual(read('tag:"a,b",c', 'line').state.tags_in, ['a,b', 'c']);
});
