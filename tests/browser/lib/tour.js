'use strict';
// A walk through every page the real preference center serves, reached the way a customer
// reaches it (links minted by consentd, forms submitted in Chromium), for the accessibility and
// screenshot tests.

const assert = require('node:assert/strict');
const { open, h1, t, FORM_HINT } = require('./pages');

/** Clicks `selector` and waits for the page it loads; what the console said before is dropped. */
async function clickAndWait(page, selector) {
  page.consoleErrors.length = 0;
  page.cspViolations.length = 0;
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
  return response;
}

/** Catalog and subject state that make the preference page show most of what it can. */
async function seedSubject(stack, subject) {
  const record = (purpose, channel, state, source, extra = []) =>
    stack.ctlOk(['record', '--subject', subject, '--purpose', purpose, '--channel', channel, '--state', state,
      '--source', source, '--jurisdiction', 'DE', ...extra]);
  await record('marketing.newsletter', 'EMAIL', 'granted', 'web-signup-v3');
  await record('marketing.newsletter', 'SMS', 'denied', 'call-center');
  await record('marketing.offers', 'EMAIL', 'granted', 'app-ios');
  await record('marketing.offers', 'EMAIL', 'withdrawn', 'email-one-click');
  await stack.ctlOk(['prefs', 'set', '--subject', subject, '--quiet-hours', '22:00-07:00', '--tz', 'Europe/Berlin',
    '--language', 'en', '--cap', 'EMAIL:3/7d', '--jurisdiction', 'DE', '--source', 'app-android']);
}

/**
 * Visits every page at one viewport, in this order: preferences, saved, unsubscribe,
 * unsubscribed, link-invalid (400), link-expired (410), resend-done, error-404. For each it calls
 * `visit({name, page, status})` and waits for it; `visit` must leave the page where it is (the
 * walk goes on from it by clicking). `subject` must be new for every walk.
 */
async function tour(stack, browser, viewport, subject, visit) {
  await seedSubject(stack, subject);
  const prefsUrl = await stack.url(['--subject', subject]);
  const unsubUrl = await stack.url(['--subject', subject, '--one-click', '--purpose', 'marketing.newsletter',
    '--channel', 'EMAIL']);

  // preferences -> saved (untick the newsletter by email, save)
  let { page, response } = await open(browser, prefsUrl, viewport);
  try {
    await visit({ name: 'preferences', page, status: response.status() });
    await page.click('input[type=checkbox][name="consent:marketing.newsletter:EMAIL"]');
    response = await clickAndWait(page, '#prefs button[type=submit]:not([form])');
    await visit({ name: 'saved', page, status: response.status(), expectedTitle: t('saved_title'), posted: true });
  } finally {
    await page.close();
  }

  // unsubscribe -> unsubscribed (the offers were withdrawn already; the newsletter by SMS is
  // denied: use a fresh grant so that the confirmation has something to do)
  await stack.ctlOk(['record', '--subject', subject, '--purpose', 'marketing.newsletter', '--channel', 'EMAIL',
    '--state', 'granted', '--source', 'web-signup-v3']);
  ({ page, response } = await open(browser, unsubUrl, viewport));
  try {
    await visit({ name: 'unsubscribe', page, status: response.status() });
    response = await clickAndWait(page, 'form button[type=submit]');
    await visit({ name: 'unsubscribed', page, status: response.status(), expectedTitle: t('unsubscribed_title'),
      posted: true });
  } finally {
    await page.close();
  }

  // A link whose signature does not match: 400.
  const good = new URL(prefsUrl);
  const last = good.pathname.slice(-1);
  const tampered = `${good.origin}${good.pathname.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`;
  ({ page, response } = await open(browser, tampered, viewport));
  try {
    await visit({ name: 'link-invalid', page, status: response.status(), expectedStatus: 400,
      expectedTitle: t('link_invalid_title') });
  } finally {
    await page.close();
  }

  // A genuine link past its expiry: 410, with the "send me a new link" form -> resend_done.
  const expired = stack.mintLocal({ kind: 'p', target: `s:${subject}`, expire: Math.floor(Date.now() / 1000) - 3600 });
  ({ page, response } = await open(browser, expired, viewport));
  try {
    await visit({ name: 'link-expired', page, status: response.status(), expectedStatus: 410,
      expectedTitle: t('link_expired_title') });
    await page.type('#resend-email', 'ann@example.com');
    response = await clickAndWait(page, 'form button[type=submit]');
    await visit({ name: 'resend-done', page, status: response.status(), expectedTitle: t('resend_done_title'),
      posted: true });
  } finally {
    await page.close();
  }

  // A genuine link of a tenant that does not exist (any more): the HTML 404 page. (A path outside
  // the routes gets the HTTP library's plain-text 404, not a page.)
  const ghost = stack.mintLocal({ tenant: 'ghost', kind: 'p', target: `s:${subject}`,
    expire: Math.floor(Date.now() / 1000) + 3600 });
  ({ page, response } = await open(browser, ghost, viewport));
  try {
    await visit({ name: 'error-404', page, status: response.status(), expectedStatus: 404,
      expectedTitle: t('error_404_title') });
  } finally {
    await page.close();
  }
}

/**
 * The console errors of a visited page, without Chromium's own report of the document's HTTP
 * status ("Failed to load resource: ... status of 404"), which error pages have by design.
 */
function consoleErrors({ page, status }) {
  const own = `Failed to load resource: the server responded with a status of ${status} `;
  return page.consoleErrors.filter((e) => !e.startsWith(own));
}

/** Asserts that a visited page is the one expected (status and <h1>). */
async function assertPage({ name, page, status, expectedStatus = 200, expectedTitle, posted = false }) {
  const title = await h1(page).catch(() => '(no h1)');
  assert.equal(status, expectedStatus, `${name}: HTTP ${status} (page "${title}")${posted && status === 403 ? FORM_HINT : ''}`);
  if (expectedTitle) assert.equal(title, expectedTitle, `${name}: <h1>`);
}

const PAGES = ['preferences', 'saved', 'unsubscribe', 'unsubscribed', 'link-invalid', 'link-expired', 'resend-done', 'error-404'];

module.exports = { tour, seedSubject, assertPage, consoleErrors, PAGES };
