// End-to-end drive of the zkgate web console in headless Chromium.
//
// A researcher sees their job held for review, the owner approves it from the
// approval queue, the researcher watches it run to done and opens the
// receipt, and the owner sees the decision in an intact audit chain. Then a
// few security properties of the console are checked from the pages.
//
// Environment:
//   BASE_URL          https://127.0.0.1:PORT (self-signed TLS is accepted)
//   OWNER_TOKEN       the owner token
//   RESEARCHER_TOKEN  a researcher token
//   JOB_ID            that researcher's job, currently held
//   SHOTS_DIR         where PNG screenshots go
//   CHROMIUM          the browser (default /usr/bin/chromium)
//   TIMEOUT_S         how long the job may take to finish (default 240)
//
// Prints one JSON line on success; on failure prints the error, saves
// failure-<context>.png screenshots and exits 1.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

function env(name, fallback) {
  const v = process.env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`environment variable ${name} is not set`);
}

const BASE_URL = env('BASE_URL').replace(/\/+$/, '');
const OWNER_TOKEN = env('OWNER_TOKEN');
const RESEARCHER_TOKEN = env('RESEARCHER_TOKEN');
const JOB_ID = env('JOB_ID');
const SHOTS_DIR = env('SHOTS_DIR');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const TIMEOUT_S = Number(env('TIMEOUT_S', '240'));

const STEP_MS = 30_000; // ordinary waits: page loads, polls of 1-5 s
const NOTE = 'reviewed by the ethics board';

// An attribute value as a quoted CSS string.
const q = (s) => `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const JOB = q(JOB_ID);

const log = (...args) => console.error('[console]', ...args);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `probe` until it returns something truthy, or fails after `ms`
// with `what` and the last value seen.
async function until(what, ms, probe, every = 250) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await probe();
    if (last && last.ok !== false) return last;
    if (Date.now() > deadline) {
      const seen = last && last.seen !== undefined ? `; last seen: ${JSON.stringify(last.seen)}` : '';
      throw new Error(`timed out after ${Math.round(ms / 1000)} s waiting for ${what}${seen}`);
    }
    await sleep(every);
  }
}

async function textOf(locator) {
  if ((await locator.count()) === 0) return null;
  try {
    return ((await locator.first().textContent({ timeout: 1000 })) || '').trim();
  } catch (_) {
    return null; // re-rendered between count and read
  }
}

const shots = [];

async function shoot(page, name, fullPage = false) {
  await page.screenshot({ path: path.join(SHOTS_DIR, name), fullPage });
  shots.push(name);
  log('screenshot', name);
}

// Records uncaught errors and CSP violations of a page.
function watch(page, label, problems) {
  page.on('pageerror', (e) => problems.push(`${label}: uncaught ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) {
      problems.push(`${label}: ${m.text()}`);
    }
  });
  page.on('dialog', (d) => d.accept());
}

async function openConsole(browser, label, token, problems) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  watch(page, label, problems);
  const response = await page.goto(`${BASE_URL}/console`, { waitUntil: 'load' });
  if (!response || !response.ok()) {
    throw new Error(`${label}: GET /console answered ${response ? response.status() : 'nothing'}`);
  }
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.fill('#token', token);
  await page.click('#login-button');
  await page.locator('#signout').waitFor({ state: 'visible' });
  return { context, page, response };
}

async function main(pages) {
  mkdirSync(SHOTS_DIR, { recursive: true });
  const problems = [];
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  pages.browser = browser;

  // 1. The researcher sees the job held, with the reason.
  log('researcher: sign in');
  const researcher = await openConsole(browser, 'researcher', RESEARCHER_TOKEN, problems);
  const rp = researcher.page;
  pages.researcher = rp;
  const who = await textOf(rp.locator('#who'));
  if (!who || !who.startsWith('researcher')) throw new Error(`researcher: #who reads ${JSON.stringify(who)}`);
  const rRow = rp.locator(`#my-jobs tr[data-job=${JOB}]`);
  const rState = rRow.locator('.state');
  await until(`job ${JOB_ID} to show as held to the researcher`, STEP_MS, async () => {
    const s = await textOf(rState);
    return s === 'held' ? { ok: true } : { ok: false, seen: s };
  });
  const reason = await until('a hold reason', STEP_MS, async () => {
    const s = await textOf(rRow.locator('.hold-reason'));
    return s ? { ok: true, text: s } : { ok: false, seen: s };
  });
  log('researcher: held:', reason.text);
  await shoot(rp, 'researcher-held.png');

  // 2. The owner approves it from the queue.
  log('owner: sign in');
  const owner = await openConsole(browser, 'owner', OWNER_TOKEN, problems);
  const op = owner.page;
  pages.owner = op;
  const ownerWho = await textOf(op.locator('#who'));
  if (ownerWho !== 'owner') throw new Error(`owner: #who reads ${JSON.stringify(ownerWho)}`);
  const qRow = op.locator(`#queue tr[data-job=${JOB}]`);
  await qRow.waitFor({ state: 'visible' });
  await shoot(op, 'owner-queue.png');
  await op.fill(`#queue input[data-note=${JOB}]`, NOTE);
  await op.click(`#queue button[data-approve=${JOB}]`);
  await qRow.waitFor({ state: 'detached' });
  log('owner: approved');

  // 3. The researcher's page follows the job to done by itself.
  let progressSeen = false;
  const stages = new Set();
  const progress = rp.locator(`progress[data-progress=${JOB}]`);
  await until(`job ${JOB_ID} to be done`, TIMEOUT_S * 1000, async () => {
    if ((await progress.count()) > 0) {
      progressSeen = true;
      const t = await textOf(rRow.locator('.progress-text'));
      if (t) stages.add(t.split(' ')[0]);
    }
    const s = await textOf(rState);
    if (s === 'failed' || s === 'cancelled') {
      const row = await textOf(rRow);
      throw new Error(`job ${JOB_ID} ended ${s}: ${row}`);
    }
    return s === 'done' ? { ok: true } : { ok: false, seen: s };
  }, 200);
  log('researcher: done; progress seen:', progressSeen, [...stages].join(','));
  await rp.click(`#my-jobs button[data-receipt=${JOB}]`);
  const view = rp.locator(`#receipt [data-receipt-view=${JOB}]`);
  await view.filter({ hasText: 'Values' }).waitFor({ state: 'visible' });
  const receiptText = (await view.innerText()).replace(/\s+/g, ' ').trim();
  log('researcher: receipt:', receiptText);
  await shoot(rp, 'researcher-receipt.png', true);

  // 4. The owner's audit log records the approval, and the chain holds.
  await until('the audit log to read "hash links ok"', STEP_MS, async () => {
    const s = await textOf(op.locator('#audit-chain'));
    return s && s.startsWith('hash links ok') ? { ok: true } : { ok: false, seen: s };
  });
  await until(`an audit entry approving ${JOB_ID}`, STEP_MS, async () => {
    const rows = await op.locator('#audit tbody tr').allTextContents();
    const hit = rows.some((t) => t.includes('approve') && t.includes(JOB_ID));
    return hit ? { ok: true } : { ok: false, seen: rows.length + ' rows' };
  });
  await shoot(op, 'owner-audit.png', true);

  // 5. Security properties.
  const tokens = [OWNER_TOKEN, RESEARCHER_TOKEN];
  for (const [label, page] of [['researcher', rp], ['owner', op]]) {
    const url = page.url();
    if (tokens.some((t) => url.includes(t) || url.includes(encodeURIComponent(t)))) {
      throw new Error(`${label}: a token appears in the URL`);
    }
    const store = await page.evaluate(() => ({
      local: localStorage.length,
      cookie: document.cookie,
    }));
    if (store.local !== 0) throw new Error(`${label}: localStorage holds ${store.local} item(s)`);
    if (store.cookie !== '') throw new Error(`${label}: document.cookie is ${JSON.stringify(store.cookie)}`);
    const cookies = await page.context().cookies();
    if (cookies.length !== 0) throw new Error(`${label}: the browser holds cookies: ${cookies.map((c) => c.name).join(', ')}`);
  }
  const status = await rp.evaluate(async (token) => {
    const r = await fetch('/v1/owner/jobs', { headers: { Authorization: 'Bearer ' + token } });
    return r.status;
  }, RESEARCHER_TOKEN);
  if (status !== 401 && status !== 403) {
    throw new Error(`a researcher token read /v1/owner/jobs: status ${status}`);
  }
  for (const [label, r] of [['researcher', researcher.response], ['owner', owner.response]]) {
    const csp = r.headers()['content-security-policy'];
    if (!csp) throw new Error(`${label}: /console came without a Content-Security-Policy header`);
    if (!/default-src 'self'/.test(csp)) throw new Error(`${label}: weak Content-Security-Policy: ${csp}`);
  }
  if (problems.length) throw new Error(`page errors:\n  ${problems.join('\n  ')}`);

  return {
    ok: true,
    progress_seen: progressSeen,
    receipt_values: receiptText,
    shots,
  };
}

const pages = {};
let code = 0;
try {
  const result = await main(pages);
  process.stdout.write(JSON.stringify(result) + '\n');
} catch (e) {
  code = 1;
  console.error('[console] FAILED:', e && e.stack ? e.stack : e);
  for (const label of ['researcher', 'owner']) {
    const page = pages[label];
    if (!page) continue;
    try {
      await page.screenshot({ path: path.join(SHOTS_DIR, `failure-${label}.png`), fullPage: true });
      console.error(`[console] screenshot failure-${label}.png`);
    } catch (err) {
      console.error(`[console] no failure screenshot of ${label}: ${err.message}`);
    }
  }
  process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e), shots }) + '\n');
} finally {
  if (pages.browser) await pages.browser.close().catch(() => {});
}
process.exit(code);
