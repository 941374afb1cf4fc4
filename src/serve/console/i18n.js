// The console's words in English and Traditional Chinese (the seed page's language).
// `t(key, values)` fills {name} placeholders; a missing key shows the key itself.

const en = {
  title: 'reach console', language: 'Language', key_title: 'This server needs a key',
  key_label: 'API key', key_submit: 'Use this key', key_wrong: 'That key was refused: {message}',
  sign_out: 'Forget key', channels: 'Channels', account: 'Account', all_accounts: 'All accounts',
  line: 'LINE', facebook: 'Facebook', whatsapp: 'WhatsApp', instagram: 'Instagram', web: 'Web',
  quota: 'LINE messages used', quota_none: 'no quota set', total: 'Total contacts',
  subscribed: 'Subscribed', unsubscribed: 'Unsubscribed', blocked: 'Blocked',
  filters: 'Filters', segment: 'Segment', segment_help: 'The panel writes this segment; typing here sets the panel.',
  segment_extra: 'Some terms cannot be shown in the panel; they are kept in the segment.',
  f_name: 'Name (whole name)', f_tags_in: 'Has any of the tags', f_tags_out: 'Exclude the tags',
  tags_hint: 'comma-separated', f_checkout: 'Last checkout', f_interaction: 'Last interaction',
  i_customer: 'Customer\u2019s last interaction', i_team: 'Team\u2019s last interaction', i_marketing: 'Team\u2019s last marketing',
  from: 'from', to: 'to', f_bound: 'Website binding', f_over_quota: 'Exclude over quota',
  f_joined: 'Joined', f_status: 'Subscription state', f_fb_optin: 'FB recurring notifications opt-in',
  f_fb_sendable: 'FB recurring notification sendable now', f_phone: 'Phone', f_email: 'Email',
  f_has_email: 'Has email', f_has_phone: 'Has phone', f_member_id: 'Member id', f_has_member_id: 'Has member id',
  f_app91: '91APP member binding', f_store: 'Store', f_salesperson: 'Salesperson',
  any: 'Any', yes: 'Yes', no: 'No', clear: 'Clear filters',
  count: '{count} matching contacts', counting: 'counting…', count_time: 'in {ms} ms',
  stray_paren: 'a “)” without its “(”', stray_paren_help: 'remove it, or open it with “(” before',
  c_avatar: 'Avatar', c_name: 'Name', c_tags: 'Tags', c_interaction: 'Customer\u2019s last interaction',
  c_bound: 'Website binding', c_fb_optin: 'FB recurring opt-in', c_joined: 'Joined', c_status: 'Status',
  c_phone: 'Phone', c_member_id: 'Member id', c_email: 'Email', c_store: 'Store (salesperson)', c_actions: 'Actions',
  actions: 'Actions', prev: 'Previous page', next: 'Next page', page: 'Page {page}', pages: 'Pages', per_page: 'Rows per page',
  none: 'No contacts match.', bulk: 'Actions on the filtered contacts', broadcast: 'Broadcast',
  import: 'Import CSV', export: 'Export CSV', broadcast_csv: 'Broadcast from CSV', wa_add: 'Add contact',
  manage_tags: 'Manage tags', jobs: 'Broadcast jobs', close: 'Close', cancel: 'Cancel',
  edit_tags: 'Edit tags', add_tag: 'Add a tag', add: 'Add', remove_tag: 'Remove tag {tag}', save: 'Save',
  unsubscribe: 'Unsubscribe', unsubscribe_help: 'Welcome and bot messages are never stopped.',
  k_broadcast: 'Broadcast messages', k_site_marketing: 'Site marketing', k_cart: 'Cart remarketing',
  k_welcome: 'Welcome', k_bot: 'Bot', resubscribe: 'Resubscribe', delete: 'Delete',
  delete_help: 'Deleting is permanent. Type DELETE to confirm.', delete_label: 'Type DELETE', delete_confirm: 'Delete permanently',
  done: 'Done: {changed} changed.', failed: 'Refused: {message}',
  kind: 'Message kind', text: 'Message text', preview: 'Preview', send: 'Send',
  audience: 'Audience', eligible: 'Eligible', excluded: 'Excluded', sent: 'Sent', failed_n: 'Failed', uncertain: 'Uncertain',
  r_unknown: 'unknown (CSV rows naming nobody)', r_blocked: 'blocked', r_opted_out: 'opted out', r_over_quota: 'over quota',
  r_not_fb_sendable: 'not FB sendable', r_outside_window: 'outside the 24-hour window', r_no_email: 'no email',
  r_line_quota: 'beyond the LINE quota', r_deleted: 'deleted',
  job: 'Job', state: 'State', started: 'Started', report: 'Report', resume: 'Resume', cancel_job: 'Cancel job',
  no_jobs: 'No broadcast jobs yet.', csv_file: 'CSV file', import_mode: 'Bad rows', all_or_nothing: 'refuse the whole file',
  reject: 'skip them', imported: 'Imported.', csv_audience: 'Audience CSV (channel, account, external_id)',
  csv_contacts: '{n} contacts named in the file', wa_name: 'Name', wa_phone: 'Phone (international, +…)',
  wa_bad_phone: 'A phone is + and 8 to 15 digits.', tag_search: 'Search tags', sort: 'Sort',
  s_count_desc: 'Most contacts', s_count_asc: 'Fewest contacts', s_created_desc: 'Newest', s_created_asc: 'Oldest',
  tag: 'Tag', contacts: 'Contacts', created: 'Created', select: 'Select', select_tag: 'Select {tag}',
  delete_selected: 'Delete selected', new_tag: 'New tag', tags_total: '{n} tags', read_only: 'This key may only read.',
  error: 'Error', loading: 'Loading…', yes_no_any: 'Any', export_ready: 'Exported {n} bytes.',
};

const zh = {
  title: 'reach 主控台', language: '語言', key_title: '此伺服器需要金鑰', key_label: 'API 金鑰',
  key_submit: '使用此金鑰', key_wrong: '金鑰被拒絕：{message}', sign_out: '清除金鑰', channels: '渠道',
  account: '帳號', all_accounts: '所有帳號', line: 'LINE', facebook: 'Facebook', whatsapp: 'WhatsApp',
  instagram: 'Instagram', web: '網站', quota: 'LINE 訊息用量', quota_none: '未設定訊息量', total: '聯絡人總數',
  subscribed: '訂閱中', unsubscribed: '取消訂閱', blocked: '已封鎖', filters: '篩選', segment: '分眾條件',
  segment_help: '篩選介面會寫出此條件；在此輸入也會設定篩選介面。', segment_extra: '部分條件無法顯示在篩選介面，已保留在條件中。',
  f_name: '名稱（完整姓名）', f_tags_in: '擁有任一標籤', f_tags_out: '排除標籤', tags_hint: '以逗號分隔',
  f_checkout: '最後完成結帳時間', f_interaction: '最後互動時間', i_customer: '客人最後互動時間',
  i_team: '團隊最後互動時間', i_marketing: '團隊最後行銷時間', from: '從', to: '到', f_bound: '綁定官網',
  f_over_quota: '排除超額', f_joined: '加入訂閱時間', f_status: '訂閱狀態', f_fb_optin: '訂閱 FB 定期通知',
  f_fb_sendable: '可發送 FB 定期通知', f_phone: '電話', f_email: 'Email', f_has_email: '有 Email',
  f_has_phone: '有電話號碼', f_member_id: '會員號碼', f_has_member_id: '有會員編號', f_app91: '91APP 會員綁定',
  f_store: '分店', f_salesperson: '銷售人員', any: '不限', yes: '是', no: '否', clear: '清除篩選',
  count: '符合條件的聯絡人：{count}', counting: '計算中…', count_time: '{ms} 毫秒',
  stray_paren: '有「)」卻沒有對應的「(」', stray_paren_help: '請刪除它，或在前面加上「(」',
  c_avatar: '頭像', c_name: '名稱', c_tags: '標籤', c_interaction: '客人最後互動時間', c_bound: '綁定官網',
  c_fb_optin: '訂閱 FB 定期通知', c_joined: '加入訂閱時間', c_status: '狀態', c_phone: '電話號碼',
  c_member_id: '會員號碼', c_email: 'Email', c_store: '綁定成員(分店)', c_actions: '動作', actions: '動作',
  prev: '上一頁', next: '下一頁', page: '第 {page} 頁', pages: '頁碼', per_page: '每頁顯示', none: '沒有符合的聯絡人。',
  bulk: '對篩選的聯絡人', broadcast: '推播訊息', import: '導入', export: '導出', broadcast_csv: '使用 CSV 推播訊息',
  wa_add: '添加', manage_tags: '管理標籤', jobs: '推播工作', close: '關閉', cancel: '取消',
  edit_tags: '編輯標籤', add_tag: '新增標籤', add: '新增', remove_tag: '移除標籤 {tag}', save: '儲存',
  unsubscribe: '取消訂閱', unsubscribe_help: '不會影響「歡迎訊息」跟「機器人訊息」。', k_broadcast: '推播訊息',
  k_site_marketing: '官網顧客行銷推播', k_cart: '購物車再行銷訊息', k_welcome: '歡迎訊息', k_bot: '機器人訊息',
  resubscribe: '重新訂閱', delete: '刪除', delete_help: '此動作將永久刪除，無法復原。請輸入大寫英文 DELETE。',
  delete_label: '輸入 DELETE', delete_confirm: '確定刪除', done: '完成：{changed} 位聯絡人已變更。',
  failed: '被拒絕：{message}', kind: '訊息類型', text: '訊息內容', preview: '預覽', send: '發送',
  audience: '對象', eligible: '可發送', excluded: '排除', sent: '已發送', failed_n: '失敗', uncertain: '不確定',
  r_unknown: '未知（CSV 中找不到的聯絡人）', r_blocked: '已封鎖', r_opted_out: '已取消訂閱', r_over_quota: '已超額',
  r_not_fb_sendable: '不可發送 FB 定期通知', r_outside_window: '超過 24 小時互動期', r_no_email: '沒有 Email',
  r_line_quota: '超過 LINE 訊息量', r_deleted: '已刪除', job: '工作', state: '狀態', started: '開始時間',
  report: '報告', resume: '繼續', cancel_job: '取消工作', no_jobs: '尚無推播工作。', csv_file: 'CSV 檔案',
  import_mode: '錯誤的列', all_or_nothing: '整個檔案拒絕', reject: '略過', imported: '已導入。',
  csv_audience: '對象 CSV（channel, account, external_id）', csv_contacts: '檔案中有 {n} 位聯絡人',
  wa_name: '名稱', wa_phone: '電話（國際格式，+…）', wa_bad_phone: '電話須為 + 加 8 到 15 位數字。',
  tag_search: '搜尋標籤', sort: '排序', s_count_desc: '人數最多', s_count_asc: '人數最少', s_created_desc: '最新建立',
  s_created_asc: '最早建立', tag: '標籤', contacts: '人數', created: '建立時間', select: '選取', select_tag: '選取 {tag}',
  delete_selected: '刪除所選', new_tag: '新標籤', tags_total: '共 {n} 個標籤', read_only: '此金鑰只能讀取。',
  error: '錯誤', loading: '載入中…', yes_no_any: '不限', export_ready: '已導出 {n} 位元組。',
};

const dictionaries = { en, 'zh-TW': zh };
export const languages = [['en', 'English'], ['zh-TW', '繁體中文']];

let current = (() => {
  const saved = localStorage.getItem('reach.lang');
  if (saved && dictionaries[saved]) return saved;
  const asked = navigator.languages || [navigator.language || 'en'];
  return asked.some((l) => /^zh/i.test(l)) ? 'zh-TW' : 'en';
})();

export function lang() { return current; }
export function setLang(l) {
  if (!dictionaries[l]) return;
  current = l;
  localStorage.setItem('reach.lang', l);
  document.documentElement.lang = l;
}
export function t(key, values = {}) {
  const text = dictionaries[current][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in values ? String(values[k]) : `{${k}}`));
}
export function number(n) { return new Intl.NumberFormat(current).format(n); }
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return new Intl.DateTimeFormat(current, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}
