// ralo web: the admin page. Plain JavaScript (ES2020), no build step.
// Everything the page shows comes from the JSON API under /api; every
// server string reaches the page through textContent, never as HTML.
'use strict';

const CSRF_KEY = 'ralo.csrf';
const THEME_KEY = 'ralo.theme';
const THEMES = ['auto', 'light', 'dark'];
const OUTCOMES = ['blocked', 'allowed', 'cached', 'stale', 'forwarded', 'local', 'refused', 'failed'];
const BLOCKABLE = ['allowed', 'forwarded', 'cached', 'stale'];
const PAGE = 100;
const MAX_ROWS = 1000;

const $ = (id) => document.getElementById(id);
const numbers = new Intl.NumberFormat();

// ---------------------------------------------------------------- storage

function load(store, key, fallback) {
  try { return store.getItem(key) || fallback; } catch { return fallback; }
}

function save(store, key, value) {
  try {
    if (value == null) store.removeItem(key); else store.setItem(key, value);
  } catch { /* storage refused (private mode): keep going without it */ }
}

// ---------------------------------------------------------------- theme

function applyTheme(theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

// Set before the body is drawn, so a chosen theme does not flash.
applyTheme(load(localStorage, THEME_KEY, 'auto'));

function showThemeButton() {
  $('theme-toggle').textContent = 'Theme: ' + load(localStorage, THEME_KEY, 'auto');
}

function cycleTheme() {
  const now = load(localStorage, THEME_KEY, 'auto');
  const next = THEMES[(THEMES.indexOf(now) + 1) % THEMES.length];
  save(localStorage, THEME_KEY, next);
  applyTheme(next);
  showThemeButton();
  redrawCharts();
}

// ---------------------------------------------------------------- DOM helpers

// el('td', {class: 'x', text: 'y', 'data-id': 1}, child...) — attributes are
// set with setAttribute, booleans as properties, children as text or nodes.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (typeof value === 'boolean') node[key] = value;
    else node.setAttribute(key, String(value));
  }
  node.append(...children.filter((c) => c != null));
  return node;
}

function setText(id, text) {
  $(id).textContent = text || '';
}

function setNumber(id, value, text) {
  const node = $(id);
  node.dataset.value = value == null ? '' : String(value);
  node.textContent = text ?? formatCount(value);
}

function formatCount(n) {
  return typeof n === 'number' && n >= 0 ? numbers.format(n) : '–';
}

function formatPercent(p) {
  return typeof p === 'number' && p >= 0 ? p.toFixed(1) + '%' : '–';
}

function formatMs(ms) {
  if (typeof ms !== 'number' || ms < 0) return '';
  return (ms < 10 ? ms.toFixed(1) : String(Math.round(ms))) + ' ms';
}

function formatDuration(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function sameDay(a, b) {
  return a.toDateString() === b.toDateString();
}

function formatClock(unixSeconds) {
  const date = new Date(unixSeconds * 1000);
  const time = { hour: '2-digit', minute: '2-digit', second: '2-digit' };
  if (sameDay(date, new Date())) return date.toLocaleTimeString([], time);
  return date.toLocaleString([], { month: 'short', day: 'numeric', ...time });
}

function formatDay(unixSeconds) {
  const date = new Date(unixSeconds * 1000);
  const year = date.getFullYear() === new Date().getFullYear() ? undefined : 'numeric';
  return date.toLocaleDateString([], { weekday: 'short', month: 'short', day: 'numeric', year });
}

function formatAgo(unixSeconds) {
  if (!unixSeconds) return 'never';
  const seconds = Math.round(unixSeconds - Date.now() / 1000);
  const words = new Intl.RelativeTimeFormat([], { numeric: 'auto' });
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60]]) {
    if (Math.abs(seconds) >= size) return words.format(Math.round(seconds / size), unit);
  }
  return words.format(seconds, 'second');
}

function plural(n, one, many) {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// Turns an error response into words: the server's error.message (and hint).
async function errorMessage(response) {
  let message = '';
  try {
    const data = await response.json();
    const error = data && data.error;
    if (error && error.message) message = error.message + (typeof error.hint === 'string' && error.hint ? ` (${error.hint})` : '');
    else if (data && data.session && data.session.message) message = data.session.message;
  } catch { /* not JSON */ }
  if (message) return message;
  if (response.status === 429) return 'Too many tries. Wait a moment and try again.';
  return `The server answered ${response.status} ${response.statusText}`.trim();
}

// The one way the page talks to ralo web. Adds the CSRF header, returns to
// the login form on a 401 (unless this is the login itself), and throws an
// ApiError carrying the server's message on any other failure.
async function api(method, path, body, { raw = false, login = false } = {}) {
  const headers = {};
  const csrf = load(sessionStorage, CSRF_KEY, null);
  if (csrf) headers['X-CSRF-TOKEN'] = csrf;
  if (!raw) headers.Accept = 'application/json';
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(`ralo web cannot be reached (${e.message}).`, 0);
  }
  if (!response.ok) {
    const message = await errorMessage(response);
    if (response.status === 401 && !login) showLogin();
    throw new ApiError(message, response.status);
  }
  if (raw) return response;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// Pi-hole answers a batch add with 201 and lists the items it refused.
function refusedItem(data) {
  const error = data && data.processed && data.processed.errors && data.processed.errors[0];
  return error ? error.error || `${error.item} was not added` : null;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------- login

let loggedIn = false;

function showLogin() {
  loggedIn = false;
  stopPolling();
  $('app').hidden = true;
  $('nav').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('password').focus();
}

function showApp() {
  loggedIn = true;
  $('login').hidden = true;
  $('app').hidden = false;
  $('nav').hidden = false;
  $('logout').hidden = false;
  route();
}

async function checkSession() {
  try {
    const data = await api('GET', '/api/auth', undefined, { login: true });
    const session = data && data.session;
    if (session && session.valid) {
      if (session.csrf) save(sessionStorage, CSRF_KEY, session.csrf);
      showApp();
    } else {
      showLogin();
    }
  } catch (e) {
    showLogin();
    if (e.status !== 401) setText('login-error', e.message);
  }
}

async function onLogin(event) {
  event.preventDefault();
  const input = $('password');
  await submitting(event.target, 'login-error', async () => {
    const data = await api('POST', '/api/auth', { password: input.value }, { login: true });
    const session = data && data.session;
    if (!session || !session.valid) throw new Error((session && session.message) || 'The password was not accepted.');
    save(sessionStorage, CSRF_KEY, session.csrf || null);
    input.value = '';
    showApp();
  });
  if (!loggedIn) input.select();
}

async function logout() {
  try { await api('DELETE', '/api/auth'); } catch { /* gone already */ }
  save(sessionStorage, CSRF_KEY, null);
  showLogin();
}

// Runs a form's work with its submit button disabled; a failure shows the
// message in words under the form, and the form keeps what was typed.
async function submitting(form, errorId, work) {
  const button = form.querySelector('[type=submit]');
  setText(errorId, '');
  if (button) button.disabled = true;
  try {
    await work();
  } catch (e) {
    setText(errorId, e.message);
  } finally {
    if (button) button.disabled = false;
  }
}

// ---------------------------------------------------------------- routing and polling

const VIEWS = {
  dashboard: { refresh: refreshDashboard, every: 5000 },
  queries: { refresh: refreshQueries, every: 2000 },
  lists: { refresh: refreshLists, every: 0 },
  groups: { refresh: refreshGroups, every: 0 },
  longterm: { refresh: refreshLongterm, every: 0 },
  client: { refresh: refreshClient, every: 5000 },
};

let current = { view: 'dashboard', arg: null };
const poll = { timer: 0, generation: 0 };

function parseHash() {
  let hash = '';
  try { hash = decodeURIComponent(location.hash.slice(1)); } catch { /* malformed: dashboard */ }
  if (hash.startsWith('client=') && hash.length > 7) return { view: 'client', arg: hash.slice(7) };
  return { view: hash in VIEWS && hash !== 'client' ? hash : 'dashboard', arg: null };
}

function route() {
  if (!loggedIn) return;
  const next = parseHash();
  for (const name of Object.keys(VIEWS)) $('view-' + name).hidden = name !== next.view;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.id === 'nav-' + next.view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (next.view === 'client' && next.arg !== current.arg) openClient(next.arg);
  current = next;
  startPolling();
}

function startPolling() {
  stopPolling();
  const generation = poll.generation;
  const view = VIEWS[current.view];
  const tick = async () => {
    try {
      await view.refresh(current.arg);
      showBanner('');
    } catch (e) {
      if (e.status !== 401) showBanner(`Could not refresh: ${e.message}`);
    }
    if (generation === poll.generation && view.every && loggedIn && !document.hidden) {
      poll.timer = setTimeout(tick, view.every);
    }
  };
  tick();
}

function stopPolling() {
  poll.generation += 1;
  clearTimeout(poll.timer);
}

function showBanner(text) {
  const banner = $('banner');
  banner.textContent = text;
  banner.hidden = !text;
}

function onVisibility() {
  if (document.hidden) stopPolling();
  else if (loggedIn) startPolling();
}

// ---------------------------------------------------------------- charts

const charts = {};

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// Allowed and blocked as stacked bars: the first series is drawn at the
// total's height and the blocked bar on top of its lower part.
function chartOptions(width, xValue) {
  const ink = cssVar('--muted');
  const line = cssVar('--line');
  const axis = { stroke: ink, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
  const bars = uPlot.paths.bars({ size: [0.9, 40], gap: 1 });
  return {
    width,
    height: 220,
    cursor: { points: { show: false }, drag: { x: false, y: false } },
    scales: { y: { range: (u, min, max) => [0, Math.max(4, max * 1.05)] } },
    axes: [axis, { ...axis, size: 56, values: (u, ticks) => ticks.map((t) => numbers.format(t)) }],
    series: [
      { value: (u, v) => (v == null ? '–' : xValue(v)) },
      {
        label: 'Allowed', stroke: cssVar('--allowed'), fill: cssVar('--allowed'), paths: bars, points: { show: false },
        value: (u, v, s, i) => (i == null ? '–' : formatCount(u.data[1][i] - u.data[2][i])),
      },
      {
        label: 'Blocked', stroke: cssVar('--blocked'), fill: cssVar('--blocked'), paths: bars, points: { show: false },
        value: (u, v) => formatCount(v),
      },
    ],
  };
}

function drawBars(key, container, rows, xValue) {
  const data = [rows.map((r) => r.timestamp), rows.map((r) => r.total || 0), rows.map((r) => Math.min(r.blocked || 0, r.total || 0))];
  const entry = charts[key];
  if (entry && entry.container === container) {
    entry.rows = rows;
    entry.plot.setData(data);
    return;
  }
  if (typeof uPlot === 'undefined' || !container.clientWidth) return;
  container.textContent = '';
  const plot = new uPlot(chartOptions(container.clientWidth, xValue), data, container);
  charts[key] = { plot, container, rows, xValue };
  new ResizeObserver(() => {
    const chart = charts[key];
    if (chart && chart.plot === plot && container.clientWidth) plot.setSize({ width: container.clientWidth, height: 220 });
  }).observe(container);
}

// Colours come from CSS: a theme change draws the charts anew.
function redrawCharts() {
  for (const [key, chart] of Object.entries(charts)) {
    chart.plot.destroy();
    delete charts[key];
    drawBars(key, chart.container, chart.rows, chart.xValue);
  }
}

// ---------------------------------------------------------------- dashboard

let blockingDeadline = null;
let blockingEnabled = true;

async function refreshDashboard() {
  const [summary, blocking, history, allowed, blocked, clients, upstreams] = await Promise.all([
    api('GET', '/api/stats/summary'),
    api('GET', '/api/dns/blocking'),
    api('GET', '/api/history'),
    api('GET', '/api/stats/top_domains?blocked=false&count=10'),
    api('GET', '/api/stats/top_domains?blocked=true&count=10'),
    api('GET', '/api/stats/top_clients?count=10'),
    api('GET', '/api/stats/upstreams'),
  ]);
  renderSummary(summary);
  renderBlocking(blocking);
  drawBars('history', $('history-chart'), history.history || [], (t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  renderTopNames('top-allowed', allowed.domains || []);
  renderTopNames('top-blocked', blocked.domains || []);
  renderTopClients(clients.clients || []);
  renderUpstreams(upstreams.upstreams || []);
}

function renderSummary(summary) {
  const q = summary.queries || {};
  setNumber('total-queries', q.total);
  setNumber('blocked-queries', q.blocked);
  setNumber('percent-blocked', q.percent_blocked, formatPercent(q.percent_blocked));
  setNumber('domains-blocked', summary.gravity && summary.gravity.domains_being_blocked);
  setNumber('clients-active', summary.clients && summary.clients.active);
  const lost = summary.ralo && summary.ralo.lost_queries;
  const notice = $('lost-notice');
  notice.hidden = !(lost > 0);
  notice.textContent = lost > 0
    ? `${plural(lost, 'query is', 'queries are')} missing from the history (ralo web was not running).`
    : '';
}

function renderBlocking(state) {
  blockingEnabled = state.blocking === 'enabled' || state.blocking === true;
  const word = blockingEnabled ? 'enabled' : state.blocking === 'disabled' || state.blocking === false ? 'disabled' : String(state.blocking);
  const node = $('blocking-state');
  node.textContent = word;
  node.className = 'state ' + (blockingEnabled ? 'on' : 'off');
  blockingDeadline = !blockingEnabled && typeof state.timer === 'number' && state.timer > 0
    ? Date.now() + state.timer * 1000
    : null;
  renderTimer();
}

function renderTimer() {
  const node = $('blocking-timer');
  if (blockingEnabled) node.textContent = '';
  else if (blockingDeadline == null) node.textContent = 'until you enable it';
  else node.textContent = `for ${formatDuration(Math.max(0, Math.round((blockingDeadline - Date.now()) / 1000)))} more`;
}

async function setBlocking(blocking, timer, button) {
  setText('blocking-error', '');
  button.disabled = true;
  try {
    const state = await api('POST', '/api/dns/blocking', { blocking, timer });
    renderBlocking(state && 'blocking' in state ? state : await api('GET', '/api/dns/blocking'));
  } catch (e) {
    setText('blocking-error', e.message);
  } finally {
    button.disabled = false;
  }
}

// One ranked item: a label, its count, and a bar showing its share of the top.
function rankItem(label, count, top) {
  const share = top > 0 ? Math.round((count / top) * 100) : 0;
  const item = el('li', {}, el('span', { class: 'what' }, label), el('span', { class: 'count', text: formatCount(count) }));
  item.style.setProperty('--share', share + '%');
  return item;
}

function renderRanked(id, items) {
  const list = $(id);
  if (!items.length) list.replaceChildren(el('li', { class: 'empty', text: 'Nothing yet.' }));
  else list.replaceChildren(...items);
}

function renderTopNames(id, domains) {
  const top = domains.length ? domains[0].count : 0;
  renderRanked(id, domains.map((d) => rankItem(d.domain, d.count, top)));
}

function clientLabel(client) {
  const ip = client.ip || '';
  return client.name && client.name !== ip ? `${client.name} (${ip})` : ip;
}

function clientLink(client) {
  return el('a', { href: '#client=' + enc(client.ip || ''), text: clientLabel(client) });
}

function renderTopClients(clients) {
  const top = clients.length ? clients[0].count : 0;
  renderRanked('top-clients', clients.map((c) => rankItem(clientLink(c), c.count, top)));
}

function renderUpstreams(upstreams) {
  const rows = upstreams.map((u) => {
    const where = u.name && u.name !== u.ip ? `${u.name} (${u.ip})` : u.ip || u.name || '';
    const port = u.port > 0 && u.port !== 53 ? `#${u.port}` : '';
    const seconds = u.statistics && u.statistics.response;
    return el('tr', {},
      el('td', { text: where + port }),
      el('td', { class: 'n', text: formatCount(u.count) }),
      el('td', { class: 'n', text: seconds > 0 ? formatMs(seconds * 1000) : '–' }));
  });
  $('upstream-rows').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 3, class: 'muted', text: 'No upstream answered yet.' }))]));
}

// ---------------------------------------------------------------- query rows

function outcomeOf(query) {
  const word = String(query.outcome || '').toLowerCase();
  return OUTCOMES.includes(word) ? word : 'other';
}

function code(text) {
  return el('code', { text });
}

function whyNodes(q, outcome) {
  const listed = q.list ? [' ', code(q.list)] : [];
  switch (outcome) {
    case 'blocked': return q.list ? ['blocked by list ', code(q.list)] : ['blocked'];
    case 'allowed': return ['allowed by allowlist', ...listed];
    case 'cached': return ['answered from the cache'];
    case 'stale': return ['old answer from the cache (upstream unreachable)'];
    case 'forwarded': return [q.upstream ? `answered by ${q.upstream}` : 'answered upstream'];
    case 'local': return ['local name'];
    case 'refused': return ['refused'];
    case 'failed': return [`upstream failed${q.reply && q.reply.type ? ` (${q.reply.type})` : ''}`];
    default: return [String(q.status || '')];
  }
}

function actionButton(q, outcome) {
  let action = null;
  if (outcome === 'blocked') action = 'allow';
  else if (BLOCKABLE.includes(outcome)) action = 'block';
  if (!action || !q.domain) return null;
  const word = action === 'allow' ? 'Allow' : 'Block';
  return el('button', {
    type: 'button', class: 'small', 'data-action': action, 'data-name': q.domain,
    'aria-label': `${word} ${q.domain}`, text: word,
  });
}

function queryRow(q) {
  const outcome = outcomeOf(q);
  const time = Number(q.time) || 0;
  const replyTime = formatMs(q.reply && q.reply.time);
  return el('tr', { 'data-id': String(q.id), 'data-time': String(time), class: 'o-' + outcome },
    el('td', { class: 'c-time' }, el('time', { datetime: new Date(time * 1000).toISOString(), text: formatClock(time) })),
    el('td', { class: 'c-type', text: q.type || '' }),
    el('td', { class: 'c-name', text: q.domain || '' }),
    el('td', { class: 'c-client' }, clientLink(q.client || {})),
    el('td', { class: 'c-outcome' }, el('span', { class: 'badge ' + outcome, text: q.outcome || q.status || '' })),
    el('td', { class: 'c-why' }, ...whyNodes(q, outcome), replyTime ? el('span', { class: 'muted', text: ` · ${replyTime}` }) : null),
    el('td', { class: 'c-act' }, actionButton(q, outcome), el('span', { class: 'row-status', role: 'status' })));
}

// A table of queries that grows at the top as newer rows arrive and keeps
// what each row says (an "allowed — live" stays put).
function queryTable(tbody, empty, params) {
  tbody.replaceChildren();
  return { tbody, empty, params, seen: new Set(), newest: null, oldest: null };
}

function addRows(table, queries, atTop) {
  const fresh = queries
    .filter((q) => !table.seen.has(String(q.id)))
    .sort((a, b) => b.time - a.time || (b.id > a.id ? 1 : -1));
  for (const q of fresh) {
    table.seen.add(String(q.id));
    table.newest = table.newest == null ? q.time : Math.max(table.newest, q.time);
    table.oldest = table.oldest == null ? q.time : Math.min(table.oldest, q.time);
  }
  const rows = fresh.map(queryRow);
  if (atTop) table.tbody.prepend(...rows); else table.tbody.append(...rows);
  while (atTop && table.tbody.rows.length > MAX_ROWS) {
    table.seen.delete(table.tbody.lastElementChild.dataset.id);
    table.tbody.lastElementChild.remove();
    table.oldest = Number(table.tbody.lastElementChild.dataset.time);
  }
  table.empty.hidden = table.tbody.rows.length > 0;
}

async function fetchQueries(table, extra) {
  const params = new URLSearchParams(table.params);
  params.set('length', String(PAGE));
  for (const [key, value] of Object.entries(extra)) params.set(key, String(value));
  const data = await api('GET', '/api/queries?' + params);
  return (data && data.queries) || [];
}

// Newer rows only (from the newest row's second on); a full page of rows
// none of which is known means a gap, and the table starts over.
async function loadNewer(table) {
  const queries = await fetchQueries(table, table.newest == null ? {} : { from: Math.floor(table.newest) });
  const gap = table.seen.size > 0 && queries.length >= PAGE && queries.every((q) => !table.seen.has(String(q.id)));
  if (gap) {
    table.tbody.replaceChildren();
    table.seen.clear();
    table.newest = table.oldest = null;
  }
  addRows(table, queries, true);
}

async function loadOlder(table) {
  if (table.oldest == null) return;
  addRows(table, await fetchQueries(table, { until: Math.ceil(table.oldest) }), false);
}

async function rowAction(button) {
  const { action, name } = button.dataset;
  const status = button.parentElement.querySelector('.row-status');
  button.disabled = true;
  status.className = 'row-status';
  status.textContent = action === 'allow' ? 'allowing…' : 'blocking…';
  try {
    const data = await api('POST', `/api/domains/${action === 'allow' ? 'allow' : 'deny'}/exact`, { domain: name, comment: null });
    const refused = refusedItem(data);
    if (refused) throw new Error(refused);
    status.textContent = action === 'allow' ? 'allowed — live' : 'blocked — live';
    button.remove();
  } catch (e) {
    status.className = 'row-status error';
    status.textContent = e.message;
    button.disabled = false;
  }
}

function onRowClick(event) {
  const button = event.target.closest('button[data-action]');
  if (button) rowAction(button);
}

// ---------------------------------------------------------------- query log

let queryLog = null;

function filterParams() {
  const params = new URLSearchParams();
  for (const [key, id] of [['client_ip', 'f-client'], ['domain', 'f-domain'], ['outcome', 'f-outcome'], ['list', 'f-list'], ['type', 'f-type']]) {
    const value = $(id).value.trim();
    if (value) params.set(key, value);
  }
  return params;
}

function resetQueryLog() {
  queryLog = queryTable($('query-rows'), $('query-empty'), filterParams());
  setText('query-error', '');
}

async function refreshQueries() {
  if (!queryLog) resetQueryLog();
  if (queryLog.newest != null && !$('query-live').checked) return;
  try {
    await loadNewer(queryLog);
    setText('query-error', '');
  } catch (e) {
    setText('query-error', e.message);
    if (e.status && e.status !== 401) return; // a refused filter: say so, keep polling
    throw e;
  }
}

function applyFilters(event) {
  if (event) event.preventDefault();
  resetQueryLog();
  if (current.view === 'queries') startPolling();
}

async function showOlder() {
  const button = $('query-older');
  button.disabled = true;
  try { await loadOlder(queryLog); } catch (e) { setText('query-error', e.message); } finally { button.disabled = false; }
}

// ---------------------------------------------------------------- client page

let clientLog = null;

function openClient(ip) {
  $('client-ip').textContent = ip;
  $('client-top').replaceChildren();
  $('client-top-blocked').replaceChildren();
  clientLog = queryTable($('client-rows'), $('client-empty'), new URLSearchParams({ client_ip: ip }));
}

async function refreshClient(ip) {
  const [allowed, blocked] = await Promise.all([
    api('GET', `/api/stats/top_domains?client_ip=${enc(ip)}&blocked=false&count=10`),
    api('GET', `/api/stats/top_domains?client_ip=${enc(ip)}&blocked=true&count=10`),
    loadNewer(clientLog),
  ]);
  renderTopNames('client-top', allowed.domains || []);
  renderTopNames('client-top-blocked', blocked.domains || []);
}

// ---------------------------------------------------------------- lists

const LIST_STATUS = { 1: 'updated', 2: 'unchanged', 3: 'unreachable, using the copy from last time', 4: 'unreachable, no copy yet' };

async function refreshLists() {
  const [lists, deny, allow, groups] = await Promise.all([
    api('GET', '/api/lists'),
    api('GET', '/api/domains/deny/exact'),
    api('GET', '/api/domains/allow/exact'),
    api('GET', '/api/groups'),
  ]);
  groupNames = namesById(groups.groups || []);
  renderLists(lists.lists || []);
  renderEntries('deny', deny.domains || []);
  renderEntries('allow', allow.domains || []);
}

function listPath(list) {
  return `/api/lists/${enc(list.address)}?type=${enc(list.type)}`;
}

function listRow(list) {
  const title = list.name || list.address;
  const toggle = el('input', { type: 'checkbox', checked: !!list.enabled, 'aria-label': `Use ${title}` });
  toggle.addEventListener('change', () => setListEnabled(list, toggle));
  let remove = el('span', { class: 'muted', text: 'your own' });
  if (!list.household) {
    remove = el('button', { type: 'button', class: 'small', 'aria-label': `Remove ${title}`, text: 'Remove' });
    remove.addEventListener('click', () => removeList(list, remove));
  }
  const updated = el('time', { text: formatAgo(list.date_updated) });
  if (list.date_updated) updated.title = new Date(list.date_updated * 1000).toLocaleString();
  return el('tr', { 'data-address': list.address },
    el('td', {}, toggle),
    el('td', { class: 'c-list' },
      list.name && list.name !== list.address ? el('strong', { text: list.name }) : null,
      el('span', { class: 'address', text: list.address }),
      list.comment ? el('span', { class: 'muted', text: list.comment }) : null),
    el('td', { text: list.type === 'allow' ? 'allow' : 'block' }),
    el('td', { class: 'n', text: formatCount(list.number) }),
    el('td', { class: 'n', text: formatCount(list.invalid_domains) }),
    el('td', {}, updated),
    el('td', { class: 'c-groups', text: appliesTo(list) }),
    el('td', { class: 'c-result', text: list.result || LIST_STATUS[list.status] || '' }),
    el('td', {}, remove));
}

function renderLists(lists) {
  const rows = lists.map(listRow);
  $('list-rows').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 9, class: 'muted', text: 'No lists yet.' }))]));
}

async function setListEnabled(list, toggle) {
  toggle.disabled = true;
  setText('lists-error', '');
  try {
    await api('PUT', listPath(list), { enabled: toggle.checked });
    list.enabled = toggle.checked;
  } catch (e) {
    toggle.checked = !!list.enabled;
    setText('lists-error', e.message);
  } finally {
    toggle.disabled = false;
  }
}

async function removeList(list, button) {
  if (!confirm(`Remove the list ${list.address}?`)) return;
  button.disabled = true;
  setText('lists-error', '');
  try {
    await api('DELETE', listPath(list));
    await refreshLists();
  } catch (e) {
    setText('lists-error', e.message);
    button.disabled = false;
  }
}

async function onAddList(event) {
  event.preventDefault();
  const form = event.target;
  await submitting(form, 'list-error', async () => {
    const comment = $('list-comment').value.trim();
    const data = await api('POST', '/api/lists', {
      address: $('list-address').value.trim(), type: $('list-type').value, comment: comment || null, enabled: true,
    });
    const refused = refusedItem(data);
    if (refused) throw new Error(refused);
    form.reset();
    await refreshLists();
  });
}

// Shows each line of the update's progress as it arrives.
async function runGravity() {
  const button = $('gravity-run');
  const output = $('gravity-output');
  button.disabled = true;
  output.hidden = false;
  output.textContent = '';
  const line = (text) => {
    output.append(text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') + '\n');
    output.scrollTop = output.scrollHeight;
  };
  try {
    await readLines(await api('POST', '/api/action/gravity', undefined, { raw: true }), line);
    await refreshLists();
  } catch (e) {
    line(`Error: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

async function readLines(response, onLine) {
  if (!response.body || !response.body.getReader) {
    (await response.text()).split(/\r\n|\n|\r/).filter(Boolean).forEach(onLine);
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += decoder.decode(value, { stream: true });
    const lines = rest.split(/\r\n|\n|\r/);
    rest = lines.pop();
    lines.forEach(onLine);
  }
  rest += decoder.decode();
  if (rest) onLine(rest);
}

// ---------------------------------------------------------------- groups

let groupNames = {};

function namesById(groups) {
  const names = {};
  for (const g of groups) names[g.id] = g.name;
  return names;
}

// Which groups a list applies to, and when, in words.
function appliesTo(list) {
  const groups = (list.groups || []).map((id) => groupNames[id] || `group ${id}`).join(', ');
  const schedule = (list.schedule || []).length ? ` · ${list.schedule.join(', ')}` : ' · always';
  return (groups || 'no group') + schedule;
}

async function refreshGroups() {
  const [groups, clients, lists] = await Promise.all([
    api('GET', '/api/groups'),
    api('GET', '/api/clients'),
    api('GET', '/api/lists'),
  ]);
  groupNames = namesById(groups.groups || []);
  renderGroups(groups.groups || [], clients.clients || [], lists.lists || []);
}

function renderGroups(groups, clients, lists) {
  const cards = groups.map((g) => groupCard(g, clients.filter((c) => (c.groups || [0]).includes(g.id)),
    lists.filter((l) => (l.groups || []).includes(g.id))));
  $('group-cards').replaceChildren(...cards);
}

function groupCard(group, members, lists) {
  const isDefault = group.id === 0;
  const title = el('h3', {}, el('span', { class: 'name', text: group.name }),
    group.comment ? el('span', { class: 'muted', text: ` ${group.comment}` }) : null);
  let remove = null;
  if (!isDefault) {
    remove = el('button', { type: 'button', class: 'small', 'aria-label': `Remove the group ${group.name}`, text: 'Remove group' });
    remove.addEventListener('click', () => removeGroup(group, remove));
  }
  const items = members.map((c) => {
    const button = el('button', { type: 'button', class: 'small', 'aria-label': `${isDefault ? 'Forget' : 'Remove'} ${c.client}`, text: isDefault ? 'Forget' : 'Remove' });
    button.addEventListener('click', () => leaveGroup(c, group, button));
    return el('li', {},
      el('span', { class: 'what' }, el('span', { class: 'name', text: c.client }),
        c.name && c.name !== c.client ? el('span', { class: 'muted', text: c.name }) : null),
      button);
  });
  const input = el('input', { name: 'client', autocomplete: 'off', placeholder: '192.168.1.50', required: true, 'aria-label': `Device to add to ${group.name}` });
  const form = el('form', { class: 'inline-form' }, input, el('button', { type: 'submit', text: 'Add device' }));
  form.addEventListener('submit', (event) => joinGroup(event, group, input));
  const listNames = lists.map((l) => l.name || l.address).join(', ');
  return el('div', { class: 'panel group', 'data-group': group.name },
    el('div', { class: 'group-head' }, title, remove),
    el('p', { class: 'muted', text: `Lists: ${listNames || 'none'}` }),
    el('ul', { class: 'entries' }, ...(items.length ? items : [el('li', { class: 'empty', text: 'No devices.' })])),
    form);
}

async function groupsWork(work) {
  setText('groups-error', '');
  try {
    await work();
    await refreshGroups();
  } catch (e) {
    setText('groups-error', e.message);
  }
}

async function removeGroup(group, button) {
  if (!confirm(`Remove the group ${group.name}? Its lists go back to default when it was their only group.`)) return;
  button.disabled = true;
  await groupsWork(() => api('DELETE', `/api/groups/${enc(group.name)}`));
}

// Takes a device out of a group; in default (no group), forgets it.
async function leaveGroup(client, group, button) {
  button.disabled = true;
  await groupsWork(async () => {
    if (group.id === 0) {
      await api('DELETE', `/api/clients/${enc(client.client)}`);
      return;
    }
    const rest = (client.groups || []).filter((id) => id !== group.id);
    await api('PUT', `/api/clients/${enc(client.client)}`, { groups: rest.length ? rest : [0] });
  });
}

// Puts a device (new or known) into a group; into default: into no group.
async function joinGroup(event, group, input) {
  event.preventDefault();
  const id = input.value.trim();
  if (!id) return;
  await groupsWork(async () => {
    const known = await api('GET', '/api/clients');
    const client = (known.clients || []).find((c) => c.client.toLowerCase() === id.toLowerCase());
    if (!client) {
      await api('POST', '/api/clients', { client: id, groups: [group.id] });
    } else {
      const groups = group.id === 0 ? [0] : [...new Set([...(client.groups || []).filter((g) => g !== 0), group.id])];
      await api('PUT', `/api/clients/${enc(client.client)}`, { groups });
    }
    input.value = '';
  });
}

async function onAddGroup(event) {
  event.preventDefault();
  const form = event.target;
  await submitting(form, 'group-error', async () => {
    const comment = $('group-comment').value.trim();
    await api('POST', '/api/groups', { name: $('group-name').value.trim(), comment: comment || null });
    form.reset();
    await refreshGroups();
  });
}

// ---------------------------------------------------------------- household entries

function renderEntries(kind, domains) {
  const items = domains.map((d) => el('li', {},
    el('span', { class: 'what' }, el('span', { class: 'name', text: d.domain }), d.comment ? el('span', { class: 'muted', text: d.comment }) : null),
    el('button', { type: 'button', class: 'small', 'data-remove': kind, 'data-name': d.domain, 'aria-label': `Remove ${d.domain}`, text: 'Remove' })));
  $(kind + '-rows').replaceChildren(...(items.length ? items : [el('li', { class: 'empty', text: 'None yet.' })]));
}

async function refreshEntries(kind) {
  const data = await api('GET', `/api/domains/${kind}/exact`);
  renderEntries(kind, (data && data.domains) || []);
}

async function onRemoveEntry(event) {
  const button = event.target.closest('button[data-remove]');
  if (!button) return;
  const kind = button.dataset.remove;
  button.disabled = true;
  setText(kind + '-error', '');
  try {
    await api('DELETE', `/api/domains/${kind}/exact/${enc(button.dataset.name)}`);
    await refreshEntries(kind);
  } catch (e) {
    setText(kind + '-error', e.message);
    button.disabled = false;
  }
}

function onAddEntry(kind) {
  return async (event) => {
    event.preventDefault();
    const input = $(kind + '-domain');
    await submitting(event.target, kind + '-error', async () => {
      const data = await api('POST', `/api/domains/${kind}/exact`, { domain: input.value.trim(), comment: null });
      const refused = refusedItem(data);
      if (refused) throw new Error(refused);
      input.value = '';
      await refreshEntries(kind);
    });
  };
}

// ---------------------------------------------------------------- long-term

let longtermDays = 7;

async function refreshLongterm() {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  start.setDate(start.getDate() - (longtermDays - 1));
  const from = Math.floor(start.getTime() / 1000);
  const until = Math.floor(Date.now() / 1000);
  const data = await api('GET', `/api/history/database?from=${from}&until=${until}`);
  const days = ((data && data.history) || []).slice().sort((a, b) => a.timestamp - b.timestamp);
  drawBars('longterm', $('longterm-chart'), days, formatDay);
  renderDays(days);
}

function renderDays(days) {
  const rows = days.slice().reverse().map((d) => el('tr', {},
    el('td', { text: formatDay(d.timestamp) }),
    el('td', { class: 'n', text: formatCount(d.total) }),
    el('td', { class: 'n', text: formatCount(d.blocked) }),
    el('td', { class: 'n', text: d.total > 0 ? formatPercent((d.blocked / d.total) * 100) : '–' }),
    el('td', { class: 'n', text: formatCount(d.cached) }),
    el('td', { class: 'n', text: formatCount(d.forwarded) })));
  $('longterm-rows').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'No history for these days.' }))]));
}

async function pickRange(event) {
  const button = event.target.closest('button[data-days]');
  if (!button) return;
  longtermDays = Number(button.dataset.days);
  for (const b of document.querySelectorAll('#view-longterm [data-days]')) b.setAttribute('aria-pressed', String(b === button));
  setText('longterm-error', '');
  try { await refreshLongterm(); } catch (e) { setText('longterm-error', e.message); }
}

// ---------------------------------------------------------------- start

function fillPlaceholders() {
  if (document.title.includes('{{')) document.title = 'ralo';
  if ($('site-title').textContent.includes('{{')) $('site-title').textContent = 'ralo';
  if ($('version').textContent.includes('{{')) $('version').textContent = '';
}

function wire() {
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', logout);
  $('theme-toggle').addEventListener('click', cycleTheme);
  $('pause-5m').addEventListener('click', (e) => setBlocking(false, 300, e.currentTarget));
  $('pause-1h').addEventListener('click', (e) => setBlocking(false, 3600, e.currentTarget));
  $('pause-forever').addEventListener('click', (e) => setBlocking(false, null, e.currentTarget));
  $('enable-blocking').addEventListener('click', (e) => setBlocking(true, null, e.currentTarget));
  $('query-filter').addEventListener('submit', applyFilters);
  $('query-filter').addEventListener('reset', () => setTimeout(applyFilters));
  $('query-older').addEventListener('click', showOlder);
  $('query-rows').addEventListener('click', onRowClick);
  $('client-rows').addEventListener('click', onRowClick);
  $('list-form').addEventListener('submit', onAddList);
  $('gravity-run').addEventListener('click', runGravity);
  $('group-form').addEventListener('submit', onAddGroup);
  $('deny-form').addEventListener('submit', onAddEntry('deny'));
  $('allow-form').addEventListener('submit', onAddEntry('allow'));
  $('deny-rows').addEventListener('click', onRemoveEntry);
  $('allow-rows').addEventListener('click', onRemoveEntry);
  $('view-longterm').addEventListener('click', pickRange);
  window.addEventListener('hashchange', route);
  document.addEventListener('visibilitychange', onVisibility);
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', redrawCharts);
  setInterval(renderTimer, 1000);
}

document.addEventListener('DOMContentLoaded', () => {
  fillPlaceholders();
  showThemeButton();
  wire();
  checkSession();
});
