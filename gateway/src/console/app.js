// zkgate web console.
//
// Security model:
// - The token is typed into a password field and kept in sessionStorage
//   only: never localStorage, never a cookie, never a URL. It disappears when
//   the tab closes or on "Sign out".
// - Every API call is a fetch() that sends it as `Authorization: Bearer ...`
//   with `credentials: "omit"`. The gateway sets no cookies and reads none,
//   so another site cannot make the browser send an authenticated request
//   on the user's behalf: there is nothing ambient to ride on (no CSRF).
// - The page's Content-Security-Policy allows scripts and styles from this
//   origin only: no inline code, no inline styles, no eval. All server text
//   is rendered with textContent / createElement, never as HTML.

'use strict';

(() => {
  const KEY_TOKEN = 'zkgate.token';
  const KEY_ROLE = 'zkgate.role';
  const KEY_NAME = 'zkgate.name';

  const FAST_MS = 1000; // job lists
  const SLOW_MS = 5000; // datasets, researchers, audit log

  const TERMINAL = new Set(['done', 'failed', 'cancelled']);

  // ---------------------------------------------------------------- helpers

  const $ = (id) => document.getElementById(id);

  // el('td', {class: 'x', data: {job: id}, title: '...'}, child, 'text', ...)
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = String(v);
      else if (k === 'data') {
        for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = String(dv);
      } else if (k === 'value') node.value = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function text(v) {
    if (v === undefined || v === null || v === '') return '—';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function short(s, n) {
    if (typeof s !== 'string') return text(s);
    return s.length > n ? s.slice(0, n) + '…' : s;
  }

  function isoTime(unix) {
    if (typeof unix !== 'number' || !Number.isFinite(unix)) return text(unix);
    return new Date(unix * 1000).toISOString().replace('.000Z', 'Z');
  }

  function localTime(unix) {
    if (typeof unix !== 'number' || !Number.isFinite(unix)) return text(unix);
    return new Date(unix * 1000).toLocaleString();
  }

  function aggregateText(manifest) {
    const a = manifest && manifest.aggregate;
    if (a === undefined || a === null) return '—';
    let s = typeof a === 'string' ? a : JSON.stringify(a);
    if (manifest.epsilon !== undefined && manifest.epsilon !== null) s += ` (ε=${manifest.epsilon})`;
    return s;
  }

  function seconds(x) {
    return `${Math.round(x)} s`;
  }

  function downloadBlob(blob, filename) {
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: filename, class: 'offscreen' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ---------------------------------------------------------------- errors

  // The error banner remembers which source set it: a poll's error is
  // cleared by that poll's next success, an action's by the next action
  // that succeeds.
  let errorSource = null;

  function showError(source, message) {
    errorSource = source;
    const box = $('error');
    box.textContent = message;
    box.hidden = false;
  }

  function clearError(source) {
    if (errorSource === null) return;
    if (source !== 'action' && source !== errorSource) return;
    errorSource = null;
    const box = $('error');
    box.textContent = '';
    box.hidden = true;
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function request(method, path, { body, token, raw } = {}) {
    const bearer = token !== undefined ? token : sessionStorage.getItem(KEY_TOKEN);
    const headers = { Accept: raw ? '*/*' : 'application/json' };
    if (bearer) headers.Authorization = 'Bearer ' + bearer;
    const init = { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'network', 'cannot reach the gateway: ' + e.message);
    }
    if (!res.ok) {
      let code = 'http_' + res.status;
      let message = `${res.status} ${res.statusText || 'error'}`;
      try {
        const j = await res.json();
        if (j && j.error) {
          code = j.error.code || code;
          message = j.error.message || message;
        }
      } catch (_) {
        // not JSON: keep the status line
      }
      throw new ApiError(res.status, code, message);
    }
    if (raw) return res;
    return res.json();
  }

  const api = {
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, { body: body === undefined ? {} : body }),
    del: (path) => request('DELETE', path),
  };

  const seg = encodeURIComponent;

  // Runs a user action: errors go to the banner, success clears it.
  async function act(fn) {
    try {
      const r = await fn();
      clearError('action');
      return r;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        signOut('unknown token');
        return undefined;
      }
      showError('action', e.message || String(e));
      return undefined;
    }
  }

  // ---------------------------------------------------------------- polling

  let generation = 0;

  // Calls fn now and then every `ms` after it settles, until the next
  // startPolling/stopPolling.
  function every(ms, source, fn) {
    const gen = generation;
    const tick = async () => {
      if (gen !== generation) return;
      try {
        await fn();
        if (gen === generation) clearError(source);
      } catch (e) {
        if (gen !== generation) return;
        if (e instanceof ApiError && e.status === 401) {
          signOut('unknown token');
          return;
        }
        showError(source, e.message || String(e));
      }
      if (gen === generation) setTimeout(tick, ms);
    };
    tick();
  }

  function stopPolling() {
    generation += 1;
  }

  // ---------------------------------------------------------------- keyed rows

  // Brings `tbody` in line with `items` while leaving rows whose data did
  // not change untouched, and replacing only the cells that did change in
  // the others, so inputs keep their text and focus across refreshes.
  const rowState = new WeakMap(); // <tr> -> {key, json}

  function syncRows(tbody, items, { key, build, empty, columns }) {
    const old = new Map();
    for (const tr of Array.from(tbody.rows)) {
      const st = rowState.get(tr);
      if (st) old.set(st.key, tr);
      else tr.remove();
    }
    if (items.length === 0) {
      for (const tr of old.values()) tr.remove();
      tbody.append(el('tr', { class: 'empty' }, el('td', { colspan: columns, text: empty })));
      return;
    }
    const wanted = [];
    for (const item of items) {
      const k = String(key(item));
      const json = JSON.stringify(item);
      let tr = old.get(k);
      if (tr) {
        old.delete(k);
        if (rowState.get(tr).json !== json) {
          const fresh = build(item);
          const oldCells = Array.from(tr.cells);
          const newCells = Array.from(fresh.cells);
          if (oldCells.length !== newCells.length) {
            tr.replaceWith(fresh);
            tr = fresh;
          } else {
            newCells.forEach((cell, i) => {
              if (cell.outerHTML !== oldCells[i].outerHTML) oldCells[i].replaceWith(cell);
            });
            for (const a of Array.from(fresh.attributes)) tr.setAttribute(a.name, a.value);
          }
        }
      } else {
        tr = build(item);
      }
      rowState.set(tr, { key: k, json });
      wanted.push(tr);
    }
    for (const tr of old.values()) tr.remove();
    wanted.forEach((tr, i) => {
      if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null);
    });
  }

  function byNewest(a, b) {
    return (b.created || 0) - (a.created || 0) || String(a.id).localeCompare(String(b.id));
  }

  // ---------------------------------------------------------------- jobs, shared

  function stateCell(job) {
    return el('td', { class: `state state-${job.state}`, text: job.state });
  }

  function progressCell(job) {
    const td = el('td', { class: 'progress-cell' });
    const p = job.progress;
    // An ended job's last progress is history: its outcome is shown instead.
    if (p && typeof p === 'object' && !TERMINAL.has(job.state)) {
      const hasShards = typeof p.shards === 'number' && p.shards > 0;
      const max = hasShards ? p.shards : 1;
      const value = hasShards ? Math.min(Math.max(Number(p.shard) || 0, 0), max) : 1;
      td.append(el('progress', { data: { progress: job.id }, max, value }));
      let label = p.stage || job.state;
      if (hasShards && Number(p.shard) > 0) label += ` shard ${p.shard} of ${p.shards}`;
      let elapsed = p.elapsed_s;
      if (typeof elapsed !== 'number' && typeof p.started === 'number') {
        elapsed = Math.max(0, Date.now() / 1000 - p.started);
      }
      if (typeof elapsed === 'number') {
        label += ` · ${seconds(elapsed)}`;
        if (typeof p.estimated_s === 'number') label += ` / ~${seconds(p.estimated_s)}`;
      }
      td.append(el('span', { class: 'progress-text', text: label }));
      return td;
    }
    if (job.state === 'queued') td.textContent = 'waiting';
    else if (job.state === 'held') td.textContent = 'awaiting review';
    else if (job.state === 'done') {
      const total = totalSeconds(job.timings);
      td.textContent = total === null ? 'done' : `done in ${total.toFixed(1)} s`;
    } else if (!TERMINAL.has(job.state)) td.textContent = job.state;
    else td.textContent = '—';
    return td;
  }

  function totalSeconds(timings) {
    if (!timings || typeof timings !== 'object') return null;
    if (typeof timings.total_s === 'number') return timings.total_s;
    let sum = 0;
    let any = false;
    for (const [k, v] of Object.entries(timings)) {
      if (typeof v === 'number' && k.endsWith('_s')) {
        sum += v;
        any = true;
      }
    }
    return any ? sum : null;
  }

  function settlementText(s) {
    if (!s || typeof s !== 'object') return null;
    if (s.tx) return `settled: tx ${short(s.tx, 18)}` + (s.block !== undefined ? ` in block ${s.block}` : '');
    if (s.error) return `settlement refused: ${s.error}`;
    if (s.retrying) return `settlement retrying: ${s.retrying}`;
    return JSON.stringify(s);
  }

  function reviewText(r) {
    if (!r || typeof r !== 'object') return null;
    return `${r.decision || 'reviewed'}${r.note ? ': ' + r.note : ''}`;
  }

  function jobIdCell(job) {
    return el('td', { class: 'mono job-id', title: job.id, text: short(job.id, 10) });
  }

  // ---------------------------------------------------------------- owner

  const noteDrafts = new Map(); // job id -> the note being typed

  function renderQueue(jobs) {
    const held = jobs.filter((j) => j.state === 'held').sort((a, b) => -byNewest(a, b));
    for (const id of Array.from(noteDrafts.keys())) {
      if (!held.some((j) => j.id === id)) noteDrafts.delete(id);
    }
    syncRows($('queue-rows'), held, {
      key: (j) => j.id,
      columns: 8,
      empty: 'No jobs waiting',
      build: (j) => {
        const hold = j.hold || {};
        const why = el('td', { class: 'why' }, el('span', { class: 'hold-reason', text: hold.message || '—' }));
        if (Array.isArray(hold.rules) && hold.rules.length) {
          why.append(el('div', { class: 'rules', text: 'rules: ' + hold.rules.map(text).join(', ') }));
        }
        if (typeof hold.since === 'number') {
          why.append(el('div', { class: 'muted', text: 'since ' + localTime(hold.since) }));
        }
        const note = el('input', {
          type: 'text',
          data: { note: j.id },
          placeholder: 'note for the audit log',
          autocomplete: 'off',
          value: noteDrafts.get(j.id) || '',
        });
        return el('tr', { data: { job: j.id } },
          jobIdCell(j),
          el('td', { text: text(j.researcher) }),
          el('td', { text: text(j.manifest && j.manifest.dataset) }),
          el('td', { class: 'mono', text: aggregateText(j.manifest) }),
          el('td', { class: 'mono', title: j.model_sha256, text: String(j.model_sha256 || '').slice(0, 12) || '—' }),
          why,
          el('td', {}, note),
          el('td', { class: 'actions' },
            el('button', { type: 'button', data: { approve: j.id }, text: 'Approve' }),
            el('button', { type: 'button', class: 'danger', data: { deny: j.id }, text: 'Deny' })));
      },
    });
  }

  function renderAllJobs(jobs) {
    syncRows($('jobs-rows'), jobs.slice().sort(byNewest), {
      key: (j) => j.id,
      columns: 8,
      empty: 'No jobs yet',
      build: (j) => {
        const details = el('td', { class: 'details' });
        if (j.state === 'failed' && j.error) {
          details.append(el('span', { class: 'error-message', text: j.error.message || j.error.code }));
          if (Array.isArray(j.error.rules) && j.error.rules.length) {
            details.append(el('div', { class: 'rules', text: 'rules: ' + j.error.rules.join(', ') }));
          }
        }
        if (j.state === 'held' && j.hold) details.append(el('span', { class: 'hold-reason', text: j.hold.message || 'held' }));
        const review = reviewText(j.review);
        if (review) details.append(el('div', { class: 'review', text: review }));
        const settle = settlementText(j.settlement);
        if (settle) details.append(el('div', { class: 'settlement', text: settle }));
        return el('tr', { data: { job: j.id } },
          jobIdCell(j),
          stateCell(j),
          el('td', { text: text(j.researcher) }),
          el('td', { text: text(j.manifest && j.manifest.dataset) }),
          el('td', { class: 'mono', text: aggregateText(j.manifest) }),
          progressCell(j),
          el('td', { text: localTime(j.created) }),
          details);
      },
    });
  }

  async function refreshOwnerJobs() {
    const jobs = await api.get('/v1/owner/jobs');
    renderQueue(jobs);
    renderAllJobs(jobs);
  }

  function columnsOf(meta) {
    const cols = meta && meta.schema && Array.isArray(meta.schema.columns) ? meta.schema.columns : [];
    return cols.filter((c) => c && typeof c === 'object');
  }

  async function refreshDatasets() {
    const list = await api.get('/v1/owner/datasets');
    syncRows($('datasets-rows'), list, {
      key: (d) => d.name,
      columns: 7,
      empty: 'No datasets',
      build: (d) => el('tr', { data: { dataset: d.name } },
        el('td', { text: text(d.name) }),
        el('td', { class: 'num', text: text(d.rows) }),
        el('td', { text: columnsOf(d).map((c) => c.name).join(', ') || '—' }),
        el('td', { class: 'mono', title: d.commitment, text: short(d.commitment, 16) }),
        el('td', { class: 'num', text: text(d.price) }),
        el('td', { text: localTime(d.created) }),
        el('td', { class: 'actions' },
          el('button', { type: 'button', class: 'danger', data: { removeDataset: d.name }, text: 'Remove' }))),
    });
  }

  async function refreshResearchers() {
    const list = await api.get('/v1/owner/researchers');
    syncRows($('researchers-rows'), list, {
      key: (r) => r.name,
      columns: 6,
      empty: 'No researchers',
      build: (r) => el('tr', { data: { researcher: r.name } },
        el('td', { text: text(r.name) }),
        el('td', { text: text(r.organisation) }),
        el('td', { class: 'num', text: text(r.trust) }),
        el('td', { class: 'mono', text: text(r.address) }),
        el('td', { text: localTime(r.created) }),
        el('td', { class: 'actions' },
          el('button', { type: 'button', class: 'danger', data: { revoke: r.name }, text: 'Revoke' }))),
    });
  }

  async function refreshAudit() {
    const log = await api.get('/v1/owner/audit?limit=200');
    const chain = $('audit-chain');
    const c = log.links || log.chain || {};
    if (c.ok) {
      const n = typeof log.total === 'number' ? log.total : c.seq;
      chain.textContent = `hash links ok (${n} entries)`;
      chain.className = 'chain ok';
      $('audit-head').textContent = c.head ? 'head ' + short(c.head, 20) : '';
      $('audit-head').title = c.head || '';
    } else {
      chain.textContent = `hash links BROKEN: ${c.error || 'unknown error'}`;
      chain.className = 'chain broken';
      $('audit-head').textContent = '';
    }
    const entries = Array.isArray(log.entries) ? log.entries.slice().reverse() : [];
    syncRows($('audit-rows'), entries, {
      key: (e) => e.seq,
      columns: 9,
      empty: 'No entries',
      build: (e) => el('tr', { data: { seq: e.seq }, class: e.decision ? `decision-${e.decision}` : undefined },
        el('td', { class: 'num', text: text(e.seq) }),
        el('td', { class: 'mono', text: isoTime(e.time) }),
        el('td', { text: text(e.who) }),
        el('td', { text: text(e.action) }),
        el('td', { text: text(e.dataset) }),
        el('td', { class: 'mono', title: e.job || '', text: text(e.job) }),
        el('td', { text: text(e.decision) }),
        el('td', { text: Array.isArray(e.rules) && e.rules.length ? e.rules.map(text).join(', ') : '—' }),
        el('td', { class: 'message', text: text(e.message) })),
    });
  }

  async function refreshOwnerSlow() {
    await Promise.all([refreshDatasets(), refreshResearchers(), refreshAudit()]);
  }

  async function decide(id, verdict) {
    const input = document.querySelector(`input[data-note="${CSS.escape(id)}"]`);
    const note = input ? input.value.trim() : '';
    const done = await act(() => api.post(`/v1/owner/jobs/${seg(id)}/${verdict}`, { note }));
    if (done) noteDrafts.delete(id);
    await Promise.allSettled([refreshOwnerJobs(), refreshAudit()]);
  }

  function wireOwner() {
    const owner = $('owner');
    owner.addEventListener('input', (ev) => {
      const t = ev.target;
      if (t instanceof HTMLInputElement && t.dataset.note) noteDrafts.set(t.dataset.note, t.value);
    });
    owner.addEventListener('click', async (ev) => {
      const b = ev.target instanceof Element ? ev.target.closest('button') : null;
      if (!b || b.disabled) return;
      const d = b.dataset;
      if (d.approve) {
        b.disabled = true;
        await decide(d.approve, 'approve');
      } else if (d.deny) {
        b.disabled = true;
        await decide(d.deny, 'deny');
      } else if (d.removeDataset) {
        if (!window.confirm(`Remove dataset "${d.removeDataset}"? Its sealed rows are deleted.`)) return;
        await act(() => api.del(`/v1/owner/datasets/${seg(d.removeDataset)}`));
        await Promise.allSettled([refreshDatasets(), refreshAudit()]);
      } else if (d.revoke) {
        if (!window.confirm(`Revoke researcher "${d.revoke}"? Their token stops working.`)) return;
        await act(() => api.del(`/v1/owner/researchers/${seg(d.revoke)}`));
        await Promise.allSettled([refreshResearchers(), refreshAudit()]);
      }
      if (b.isConnected) b.disabled = false;
    });
    // Enter in a note field approves nothing: it would be too easy to hit.
    owner.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && ev.target instanceof HTMLInputElement && ev.target.dataset.note) ev.preventDefault();
    });

    $('add-researcher').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const name = $('researcher-name').value.trim();
      const organisation = $('researcher-organisation').value.trim();
      const trust = Number($('researcher-trust').value);
      const made = await act(() => api.post('/v1/owner/researchers', { name, organisation, trust }));
      if (!made) return;
      showNewToken(made.name || name, made.token);
      $('add-researcher').reset();
      await Promise.allSettled([refreshResearchers(), refreshAudit()]);
    });

    $('reload-policy').addEventListener('click', async () => {
      const r = await act(() => api.post('/v1/owner/policy/reload', {}));
      if (!r) return;
      const n = Array.isArray(r.rules) ? r.rules.length : 0;
      $('policy-result').textContent = `policy reloaded: ${n} rule${n === 1 ? '' : 's'}`;
      await refreshAudit().catch(() => {});
    });
  }

  function showNewToken(name, token) {
    const box = $('new-token');
    box.replaceChildren(
      el('p', {}, 'Token for ', el('strong', { text: name }), ' — it is shown once: copy it now and hand it over securely.'),
      el('code', { class: 'token', text: token }),
      el('div', { class: 'row' },
        el('button', { type: 'button', class: 'secondary', data: { copyToken: '1' }, text: 'Copy' }),
        el('button', { type: 'button', class: 'secondary', data: { dismissToken: '1' }, text: 'Dismiss' })));
    box.hidden = false;
  }

  function wireNewToken() {
    const box = $('new-token');
    box.addEventListener('click', async (ev) => {
      const b = ev.target instanceof Element ? ev.target.closest('button') : null;
      if (!b) return;
      if (b.dataset.copyToken) {
        const code = box.querySelector('code');
        try {
          await navigator.clipboard.writeText(code ? code.textContent : '');
          b.textContent = 'Copied';
        } catch (_) {
          b.textContent = 'Copy failed: select it by hand';
        }
      } else if (b.dataset.dismissToken) {
        box.replaceChildren();
        box.hidden = true;
      }
    });
  }

  // ---------------------------------------------------------------- researcher

  let catalogueJson = '';
  const receipts = new Map(); // job id -> receipt JSON

  async function refreshCatalogue() {
    const list = await api.get('/v1/datasets');
    const json = JSON.stringify(list);
    if (json === catalogueJson) return;
    catalogueJson = json;
    const box = $('catalogue');
    if (list.length === 0) {
      box.replaceChildren(el('p', { class: 'muted', text: 'No datasets are published.' }));
      return;
    }
    box.replaceChildren(...list.map(datasetBlock));
  }

  function datasetBlock(d) {
    const cols = columnsOf(d);
    const table = el('table', { class: 'schema' },
      el('thead', {}, el('tr', {},
        el('th', { text: 'Column' }), el('th', { text: 'Kind' }), el('th', { text: 'Min' }),
        el('th', { text: 'Max' }), el('th', { text: 'Scale' }))),
      el('tbody', {}, ...cols.map((c) => el('tr', {},
        el('td', { text: text(c.name) }),
        el('td', { text: text(c.kind !== undefined ? c.kind : c.type) }),
        el('td', { class: 'num', text: text(c.min) }),
        el('td', { class: 'num', text: text(c.max) }),
        el('td', { class: 'num', text: text(c.scale) })))));
    // The gateway's price; an on-chain job pays what the settlement
    // contract's registry holds, which `zkgate chain register-dataset`
    // sets from it.
    const price = `${text(d.price)} wei`;
    return el('div', { class: 'dataset', data: { dataset: d.name } },
      el('h3', { text: text(d.name) }),
      el('dl', { class: 'meta' },
        el('dt', { text: 'Rows' }), el('dd', { text: text(d.rows) }),
        el('dt', { text: 'Price' }), el('dd', { text: price }),
        el('dt', { text: 'Commitment' }), el('dd', { class: 'mono hash', text: text(d.commitment) })),
      table,
      el('button', { type: 'button', data: { mock: d.name }, text: 'Download mock CSV' }));
  }

  function renderMyJobs(jobs) {
    syncRows($('my-jobs-rows'), jobs.slice().sort(byNewest), {
      key: (j) => j.id,
      columns: 7,
      empty: 'You have no jobs yet',
      build: (j) => {
        const details = el('td', { class: 'details' });
        if (j.state === 'held') {
          details.append(el('span', { class: 'hold-reason', text: (j.hold && j.hold.message) || 'waiting for the owner\'s review' }));
        }
        if (j.state === 'failed') {
          const msg = j.error ? j.error.message || j.error.code : 'failed';
          details.append(el('span', { class: 'error-message', text: msg }));
        }
        const review = reviewText(j.review);
        if (review) details.append(el('div', { class: 'review', text: 'review: ' + review }));
        const settle = settlementText(j.settlement);
        if (settle) details.append(el('div', { class: 'settlement', text: settle }));
        const actions = el('td', { class: 'actions' });
        if (j.state === 'done') {
          actions.append(el('button', { type: 'button', data: { receipt: j.id }, text: 'Show receipt' }));
        }
        if (!TERMINAL.has(j.state)) {
          actions.append(el('button', { type: 'button', class: 'secondary', data: { cancel: j.id }, text: 'Cancel' }));
        }
        return el('tr', { data: { job: j.id } },
          jobIdCell(j),
          stateCell(j),
          el('td', { text: text(j.manifest && j.manifest.dataset) }),
          el('td', { class: 'mono', text: aggregateText(j.manifest) }),
          progressCell(j),
          details,
          actions);
      },
    });
  }

  async function refreshMyJobs() {
    renderMyJobs(await api.get('/v1/jobs'));
  }

  function showReceipt(id, r) {
    const values = Array.isArray(r.values) ? r.values.map(text) : [];
    const shards = Array.isArray(r.shards) ? r.shards.length : null;
    const agg = r.circuit && r.circuit.aggregate !== undefined ? r.circuit.aggregate : undefined;
    const view = el('div', { class: 'receipt', data: { receiptView: id } },
      el('h2', {}, 'Receipt for job ', el('code', { text: id })),
      el('p', { class: 'values' }, el('strong', { text: 'Values: ' }), values.join(', ') || '—'));
    const facts = el('dl', { class: 'meta' });
    const fact = (k, v) => facts.append(el('dt', { text: k }), el('dd', { text: v }));
    if (r.result !== undefined) fact('Result', text(r.result));
    fact('Shards', shards === null ? '—' : String(shards));
    fact('Aggregate', text(agg));
    if (r.commitment) fact('Dataset commitment', r.commitment);
    const total = totalSeconds(r.timings);
    if (total !== null) fact('Time', `${total.toFixed(1)} s`);
    view.append(facts,
      el('div', { class: 'row' },
        el('button', { type: 'button', data: { downloadReceipt: id }, text: 'Download receipt' }),
        el('button', { type: 'button', class: 'secondary', data: { closeReceipt: id }, text: 'Close' })));
    const box = $('receipt');
    box.replaceChildren(view);
    box.hidden = false;
  }

  async function downloadMock(name) {
    const res = await request('GET', `/v1/datasets/${seg(name)}/mock`, { raw: true });
    const blob = await res.blob();
    downloadBlob(new Blob([blob], { type: 'text/csv' }), `${name}.mock.csv`);
  }

  function wireResearcher() {
    $('researcher').addEventListener('click', async (ev) => {
      const b = ev.target instanceof Element ? ev.target.closest('button') : null;
      if (!b || b.disabled) return;
      const d = b.dataset;
      if (d.mock) {
        await act(() => downloadMock(d.mock));
      } else if (d.receipt) {
        b.disabled = true;
        const r = await act(() => api.get(`/v1/jobs/${seg(d.receipt)}/receipt`));
        if (r) {
          receipts.set(d.receipt, r);
          showReceipt(d.receipt, r);
        }
        if (b.isConnected) b.disabled = false;
      } else if (d.downloadReceipt) {
        const r = receipts.get(d.downloadReceipt);
        if (r) {
          const blob = new Blob([JSON.stringify(r, null, 2) + '\n'], { type: 'application/json' });
          downloadBlob(blob, `${d.downloadReceipt}.receipt.json`);
        }
      } else if (d.closeReceipt) {
        $('receipt').replaceChildren();
        $('receipt').hidden = true;
      } else if (d.cancel) {
        if (!window.confirm('Cancel this job?')) return;
        b.disabled = true;
        await act(() => api.post(`/v1/jobs/${seg(d.cancel)}/cancel`, {}));
        await refreshMyJobs().catch(() => {});
        if (b.isConnected) b.disabled = false;
      }
    });
  }

  // ---------------------------------------------------------------- session

  function resetViews() {
    for (const id of ['queue-rows', 'jobs-rows', 'datasets-rows', 'researchers-rows', 'audit-rows', 'my-jobs-rows', 'catalogue']) {
      $(id).replaceChildren();
    }
    for (const id of ['receipt', 'new-token']) {
      $(id).replaceChildren();
      $(id).hidden = true;
    }
    $('audit-chain').textContent = '';
    $('audit-head').textContent = '';
    $('policy-result').textContent = '';
    noteDrafts.clear();
    receipts.clear();
    catalogueJson = '';
  }

  let current = null; // "role name" of the view shown

  function showView(role, name) {
    const who = `${role} ${name || ''}`;
    if (current === who) return;
    current = who;
    stopPolling();
    resetViews();
    $('login-view').hidden = true;
    $('session').hidden = false;
    $('who').textContent = role === 'owner' ? 'owner' : `researcher ${name || ''}`.trim();
    $('owner').hidden = role !== 'owner';
    $('researcher').hidden = role !== 'researcher';
    if (role === 'owner') {
      every(FAST_MS, 'poll:jobs', refreshOwnerJobs);
      every(SLOW_MS, 'poll:slow', refreshOwnerSlow);
    } else {
      every(FAST_MS, 'poll:jobs', refreshMyJobs);
      every(SLOW_MS, 'poll:slow', refreshCatalogue);
    }
  }

  function showLogin() {
    current = null;
    stopPolling();
    resetViews();
    $('owner').hidden = true;
    $('researcher').hidden = true;
    $('session').hidden = true;
    $('who').textContent = '';
    $('login-view').hidden = false;
    $('token').value = '';
    $('token').focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY_TOKEN);
    sessionStorage.removeItem(KEY_ROLE);
    sessionStorage.removeItem(KEY_NAME);
    sessionStorage.clear();
    showLogin();
    if (message) showError('action', message);
    else clearError('action');
  }

  // Checks `token` with whoami and enters the matching view.
  async function enter(token) {
    let me;
    try {
      me = await request('GET', '/v1/whoami', { token });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        signOut('unknown token');
        return;
      }
      // The gateway is unreachable: keep a stored session, show why.
      const role = sessionStorage.getItem(KEY_ROLE);
      if (sessionStorage.getItem(KEY_TOKEN) === token && role) {
        showView(role, sessionStorage.getItem(KEY_NAME));
      }
      showError('action', e.message || String(e));
      return;
    }
    if (me.role !== 'owner' && me.role !== 'researcher') {
      showError('action', `unexpected role ${text(me.role)}`);
      return;
    }
    sessionStorage.setItem(KEY_TOKEN, token);
    sessionStorage.setItem(KEY_ROLE, me.role);
    if (me.name) sessionStorage.setItem(KEY_NAME, me.name);
    else sessionStorage.removeItem(KEY_NAME);
    clearError('action');
    showView(me.role, me.name);
  }

  function wireSession() {
    $('login').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const input = $('token');
      const token = input.value.trim();
      if (!token) {
        showError('action', 'enter a token');
        return;
      }
      const button = $('login-button');
      button.disabled = true;
      try {
        await enter(token);
      } finally {
        button.disabled = false;
        input.value = '';
      }
    });
    $('signout').addEventListener('click', () => signOut());
  }

  function start() {
    wireSession();
    wireOwner();
    wireNewToken();
    wireResearcher();
    const token = sessionStorage.getItem(KEY_TOKEN);
    if (token) {
      const role = sessionStorage.getItem(KEY_ROLE);
      if (role === 'owner' || role === 'researcher') showView(role, sessionStorage.getItem(KEY_NAME));
      enter(token);
    } else {
      showLogin();
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
