'use strict';
// Helpers shared by the tests that drive the real preference center in Chromium.

const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const { launch, newPage } = require('./browser');
const { SOURCE_DIR, Stack } = require('./stack');

/** The English locale the pages are rendered with (expected texts come from it, not copies). */
const EN = JSON.parse(fs.readFileSync(path.join(SOURCE_DIR, 'services/prefcenter/assets/locales/en.json'), 'utf8'));

/** Chromium for pages served with a throwaway certificate. */
function launchBrowser() {
  return launch({ args: ['--ignore-certificate-errors'] });
}

/** Opens `url` in a new tab at the viewport; returns {page, response}. */
async function open(browser, url, { width = 1280, height = 800 } = {}) {
  const page = await newPage(browser, { width, height, isMobile: width < 600, hasTouch: width < 600 });
  await page.setExtraHTTPHeaders({ 'Accept-Language': 'en' });
  const response = await page.goto(url, { waitUntil: 'load' });
  return { page, response };
}

/** The page's visible text, whitespace collapsed. */
function text(page) {
  return page.evaluate(() => document.body.innerText.replace(/\s+/g, ' ').trim());
}

/** The <h1>'s text. */
function h1(page) {
  return page.$eval('h1', (el) => el.textContent.replace(/\s+/g, ' ').trim());
}

/** Clicks `selector` and waits for the navigation it causes; returns the response. */
async function clickAndWait(page, selector) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
  return response;
}

/** The rows of the page's history table: [{when, what, source}], newest first. */
function historyRows(page) {
  return page.$$eval('table.history tbody tr', (rows) =>
    rows.map((tr) => {
      const cells = [...tr.querySelectorAll('td')];
      const clean = (el) => (el ? el.innerText.replace(/\s+/g, ' ').trim() : '');
      const where = cells[2] ? cells[2].cloneNode(true) : null;
      if (where) where.querySelectorAll('[aria-hidden="true"]').forEach((n) => n.remove());
      return { when: clean(cells[0]), what: clean(cells[1]), source: where ? where.textContent.trim() : '' };
    }),
  );
}

/** Appended to the message when the preference center refuses a form Chromium submitted. */
const FORM_HINT =
  ' (a form submitted by Chromium from the page itself; Chromium sends `Origin: null` and ' +
  '`Sec-Fetch-Site: same-origin` with it because the page sets Referrer-Policy: no-referrer)';

/** Fills an English locale string's {placeholders}. */
function t(key, params = {}) {
  let s = EN[key];
  if (s === undefined) throw new Error(`no locale key ${key}`);
  for (const [k, v] of Object.entries(params)) s = s.split(`{${k}}`).join(v);
  return s;
}

/**
 * One node:test test that starts the services (`stack`: Stack options) and Chromium, runs
 * `body({stack, browser, step, failed})` and stops everything however it ends. `step(name, fn)`
 * runs `fn` as a subtest; after a failing step the remaining ones are skipped (unless a step says
 * {independent: true}), the first failure prints the end of the services' logs, and their
 * temporary directory is kept for a look. `failed()` tells whether a step has failed.
 */
function scenario(name, { stack: stackOptions = {}, timeout = 120000 } = {}, body) {
  test(name, { timeout }, async (tc) => {
    const stack = await Stack.start(stackOptions);
    let browser = null;
    let failed = false;
    const step = (stepName, fn, { independent = false } = {}) =>
      tc.test(stepName, async (st) => {
        if (failed && !independent) {
          st.skip('an earlier step failed');
          return;
        }
        try {
          await fn(st);
        } catch (err) {
          if (!failed) console.error(`# "${stepName}" failed; the services' logs end with:\n${stack.logs()}`);
          failed = true;
          throw err;
        }
      });
    try {
      browser = await launchBrowser();
      await body({ stack, browser, step, failed: () => failed });
    } catch (err) {
      if (!failed) console.error(`# "${name}" failed; the services' logs end with:\n${stack.logs()}`);
      failed = true;
      throw err;
    } finally {
      if (browser) await browser.close().catch(() => {});
      await stack.stop({ keep: failed });
    }
  });
}

module.exports = { EN, t, FORM_HINT, launchBrowser, open, text, h1, clickAndWait, historyRows, scenario };
