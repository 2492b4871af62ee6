'use strict';
// Accessibility of the real preference center in Chromium: every page it serves (preferences,
// saved, unsubscribe, unsubscribed, the 400 and 410 link errors, resend_done, the 404 error),
// reached as a customer reaches it, has zero axe-core violations of WCAG 2.0/2.1 A and AA (and no
// CSP violation or console error); and the preference center is usable with the keyboard alone.
//
//   node --test-reporter=spec a11y.test.js     (tests/browser/CMakeLists.txt sets the paths)

const assert = require('node:assert/strict');
const { runAxe, cspViolations, keyboardWalk } = require('./lib/browser');
const { t, scenario, open, h1, historyRows, FORM_HINT } = require('./lib/pages');
const { tour, assertPage, consoleErrors, PAGES } = require('./lib/tour');

const EMAIL_BOX = 'input[type=checkbox][name="consent:marketing.newsletter:EMAIL"]';

scenario('accessibility and keyboard use of every real page', { stack: { name: 'a11y' } }, async ({ stack, browser, step }) => {
  await step('zero axe-core violations (wcag2a, wcag2aa, wcag21a, wcag21aa) on every page', async () => {
    const problems = [];
    const visited = [];
    await tour(stack, browser, { width: 1280, height: 800 }, 'a11y-1', async (visit) => {
      visited.push(visit.name);
      try {
        await assertPage(visit);
      } catch (err) {
        problems.push(err.message.split('\n')[0]);
      }
      const { violations } = await runAxe(visit.page);
      for (const v of violations) {
        problems.push(`${visit.name}: axe ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target).join(', ')}`);
      }
      for (const c of await cspViolations(visit.page)) problems.push(`${visit.name}: CSP violation ${c}`);
      for (const e of consoleErrors(visit)) problems.push(`${visit.name}: console error ${e}`);
    });
    assert.deepEqual(visited, PAGES);
    assert.deepEqual(problems, []);
  }, { independent: true });

  await step('every control of the preference center is reachable by Tab, with a visible focus ring', async () => {
    await stack.ctlOk(['record', '--subject', 'kb-walk', '--purpose', 'marketing.newsletter', '--channel', 'EMAIL',
      '--state', 'granted', '--source', 'web-signup-v3']);
    const { page } = await open(browser, await stack.url(['--subject', 'kb-walk']));
    try {
      const { order, expected } = await keyboardWalk(page);
      assert.ok(order[0] && order[0].classes.includes('skip-link'), 'the first Tab reaches the skip link');
      assert.equal(order.length, expected.length, `Tab reached ${order.map((o) => o.name || o.tag)} of ${expected}`);
      assert.deepEqual(order.filter((o) => !o.visibleFocus).map((o) => o.name || o.tag), [], 'no visible focus ring');
    } finally {
      await page.close();
    }
  }, { independent: true });

  await step('keyboard alone: Tab to a checkbox, Space toggles it, Tab to Save, Enter saves', async () => {
    await stack.ctlOk(['record', '--subject', 'kb-1', '--purpose', 'marketing.newsletter', '--channel', 'EMAIL',
      '--state', 'granted', '--source', 'web-signup-v3', '--jurisdiction', 'DE']);
    const link = await stack.url(['--subject', 'kb-1']);
    const { page } = await open(browser, link);
    try {
      const focused = (selector) => page.evaluate((s) => document.activeElement === document.querySelector(s), selector);
      /** Presses Tab until `selector` has focus (at most 100 times). */
      const tabTo = async (selector) => {
        for (let i = 0; i < 100; i++) {
          await page.keyboard.press('Tab');
          if (await focused(selector)) return;
        }
        assert.fail(`Tab never reached ${selector}`);
      };
      await page.evaluate(() => document.activeElement && document.activeElement.blur());
      await tabTo(EMAIL_BOX);
      assert.equal(await page.$eval(EMAIL_BOX, (el) => el.checked), true);
      await page.keyboard.press('Space');
      assert.equal(await page.$eval(EMAIL_BOX, (el) => el.checked), false, 'Space unticks the box');
      const save = '#prefs .actions button[type=submit]:not([form])';
      await tabTo(save);
      const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
      assert.equal(response.status(), 200, `Enter on Save: HTTP ${response.status()} ("${await h1(page)}")${response.status() === 403 ? FORM_HINT : ''}`);
      assert.equal(await h1(page), t('saved_title'));
      const what = t('what_purpose_channel', { purpose: 'Weekly newsletter', by_channel: t('channel_by_EMAIL') });
      const changes = await page.$$eval('ul.changes li', (lis) => lis.map((li) => li.textContent.trim()));
      assert.ok(changes.includes(t('change_withdrawn', { what })), `saved page lists: ${changes}`);

      // ...and the change is real: consentd denies, and the page's history shows it.
      const r = await stack.ctl(['check', '--subject', 'kb-1', '--purpose', 'marketing.newsletter', '--channel', 'EMAIL']);
      assert.match(r.stdout, /^DENY EXPLICIT_DENY /);
      const [back] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('a.button--primary')]);
      assert.equal(back.status(), 200);
      const rows = await historyRows(page);
      assert.equal(rows[0]?.what === t('history_withdrawn', { what }) || rows.some((row) => row.what === t('history_withdrawn', { what })), true,
        JSON.stringify(rows));
    } finally {
      await page.close();
    }
  }, { independent: true });
});
