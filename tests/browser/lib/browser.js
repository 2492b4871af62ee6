'use strict';
// Browser helpers for the preference-center harness: Debian's Chromium through puppeteer-core
// (puppeteer never downloads a browser here), axe-core injected from node_modules, screenshots
// and a keyboard-only walk through a page.

const fs = require('node:fs');
const puppeteer = require('puppeteer-core');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const AXE_SOURCE_PATH = require.resolve('axe-core/axe.min.js');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

let axeSource = null;

/**
 * Launches headless Chromium (as root, hence --no-sandbox). `args` are added to Chromium's
 * command line (the tests against the real services pass --ignore-certificate-errors: they serve
 * HTTPS with a throwaway CA).
 */
async function launch({ executablePath = CHROMIUM, args = [] } = {}) {
  if (!fs.existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`);
  }
  return puppeteer.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      '--font-render-hinting=none',
      ...args,
    ],
  });
}

/**
 * Opens a new tab at the given viewport. Every CSP violation and every console error of the
 * page is collected into page.cspViolations / page.consoleErrors.
 */
async function newPage(browser, { width, height, isMobile = false, hasTouch = false }) {
  const page = await browser.newPage();
  await page.setViewport({ width, height, deviceScaleFactor: 1, isMobile, hasTouch });
  page.cspViolations = [];
  page.consoleErrors = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content.Security.Policy/i.test(text)) page.cspViolations.push(text);
    else if (msg.type() === 'error') page.consoleErrors.push(text);
  });
  page.on('pageerror', (err) => page.consoleErrors.push(String(err)));
  // The browser reports violations as DOM events too; this listener is injected by DevTools,
  // not by the page, so the page's CSP does not block it.
  await page.evaluateOnNewDocument(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  return page;
}

/** Violations from the page's securitypolicyviolation events plus console reports, deduplicated. */
async function cspViolations(page) {
  const fromEvents = await page.evaluate(() => window.__cspViolations || []);
  return [...new Set([...fromEvents, ...page.cspViolations])];
}

/**
 * Runs axe-core in the page. By default only the WCAG 2.0/2.1 A and AA rules; pass
 * tags: ['best-practice'] for the rest. Returns {violations, incomplete}, each a list of
 * {id, impact, help, nodes: [{target, summary}]}.
 */
async function runAxe(page, { tags = WCAG_TAGS } = {}) {
  if (axeSource === null) axeSource = fs.readFileSync(AXE_SOURCE_PATH, 'utf8');
  // Runtime.evaluate from DevTools is not subject to the page's CSP (no inline <script>).
  const loaded = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!loaded) await page.evaluate(axeSource);
  return page.evaluate(async (runTags) => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: runTags },
      resultTypes: ['violations', 'incomplete'],
    });
    const simplify = (list) =>
      list.map((r) => ({
        id: r.id,
        impact: r.impact,
        help: r.help,
        nodes: r.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary || '' })),
      }));
    return { violations: simplify(result.violations), incomplete: simplify(result.incomplete) };
  }, tags);
}

/** A full-page PNG screenshot. */
async function screenshot(page, path) {
  await page.screenshot({ path, fullPage: true, captureBeyondViewport: true });
}

/** True when the page scrolls sideways at the current viewport. */
async function hasHorizontalScroll(page) {
  return page.evaluate(() => {
    const doc = document.documentElement;
    return doc.scrollWidth > doc.clientWidth + 1;
  });
}

/**
 * Tabs through the page from the top with the keyboard only and returns the focus order: one
 * entry per focused element {key, tag, type, name, text, visibleFocus, inViewport}. Stops when
 * focus leaves the page or comes back to the first element. Also returns `expected`: every
 * element that should be reachable by Tab, in DOM order, so callers can compare the two, and
 * `presses`: how many Tab presses the walk took.
 */
async function keyboardWalk(page, { max = 400 } = {}) {
  await page.evaluate(() => {
    if (document.activeElement) document.activeElement.blur();
    window.scrollTo(0, 0);
  });
  const describe = () => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const path = [];
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      let i = 0;
      for (let s = n; (s = s.previousElementSibling); ) i++;
      path.unshift(`${n.tagName.toLowerCase()}:${i}`);
    }
    const cs = getComputedStyle(el);
    const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2;
    const shadow = cs.boxShadow && cs.boxShadow !== 'none';
    // Date and time inputs end with the browser's picker button, a part of the input's own
    // shadow tree: while it has focus the input itself does not match :focus, and the browser
    // draws that button's focus ring itself.
    const pickerButton = /^(date|time|datetime-local|month|week)$/.test(el.type || '') && !el.matches(':focus');
    const r = el.getBoundingClientRect();
    const label =
      (el.labels && el.labels[0] && el.labels[0].innerText) ||
      el.getAttribute('aria-label') ||
      el.innerText ||
      el.value ||
      '';
    return {
      key: path.join('/'),
      tag: el.tagName.toLowerCase(),
      classes: el.getAttribute('class') || '',
      type: el.getAttribute('type') || '',
      name: el.getAttribute('name') || el.id || '',
      text: label.trim().replace(/\s+/g, ' ').slice(0, 60),
      visibleFocus: outline || shadow || pickerButton,
      inViewport: r.bottom > 0 && r.top < window.innerHeight && r.width > 0 && r.height > 0,
    };
  };
  // One entry per element: some native controls take several Tab presses (the hour and minute
  // fields of <input type=time>); those count once, and every press must show a focus ring.
  const order = [];
  let presses = 0;
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    presses++;
    const info = await page.evaluate(describe);
    if (!info || (order.length > 0 && info.key === order[0].key)) break;
    const last = order[order.length - 1];
    if (last && last.key === info.key) {
      last.visibleFocus = last.visibleFocus && info.visibleFocus;
      continue;
    }
    order.push(info);
  }
  const expected = await page.evaluate(() => {
    const sel = [
      'a[href]',
      'button:not([disabled])',
      'input:not([type=hidden]):not([disabled])',
      'select:not([disabled])',
      'textarea:not([disabled])',
      'summary',
      '[tabindex]:not([tabindex="-1"])',
    ].join(',');
    return [...document.querySelectorAll(sel)]
      .filter((el) => (el.checkVisibility ? el.checkVisibility() : el.getClientRects().length > 0))
      .map((el) => el.getAttribute('name') || el.id || el.tagName.toLowerCase());
  });
  return { order, expected, presses };
}

module.exports = {
  CHROMIUM,
  WCAG_TAGS,
  launch,
  newPage,
  cspViolations,
  runAxe,
  screenshot,
  hasHorizontalScroll,
  keyboardWalk,
};
