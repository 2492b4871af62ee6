'use strict';
// The preference center in Chromium against the real consentd: a customer opens their /p/ link,
// unticks a channel and saves (consentd then denies it, citing the record the page wrote), ticks
// it again and saves (allowed again, with evidence naming the notice version and the SHA-256 of
// the notice text the catalog holds), and the page's history lists both changes. Saving records
// only what the person changed (no settings change when none was touched), and "Stop all
// marketing" denies every marketing purpose on every channel.
//
//   node --test-reporter=spec preferences.test.js     (tests/browser/CMakeLists.txt sets the paths)

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { t, scenario, open, h1, clickAndWait, historyRows, FORM_HINT } = require('./lib/pages');

const SUBJECT = 'cust-42';
const PURPOSE = 'marketing.newsletter';
const EMAIL_BOX = `input[type=checkbox][name="consent:${PURPOSE}:EMAIL"]`;
const SAVE = '#prefs button[type=submit]:not([form])';

scenario('preference center: untick, save, tick, save', { stack: { name: 'prefs' } }, async ({ stack, browser, step }) => {
  let link;
  let page;
  let withdrawal;
  let grant;
  let firstSaveChanges;
  const check = async () => {
    const [r] = await stack.ctlJson(['check', '--subject', SUBJECT, '--purpose', PURPOSE, '--channel', 'EMAIL'], {
      allowExit: [0, 1],
    });
    return r;
  };
  /** Every decision record in the subject's history: [{recordId, state, source, evidence, ...}]. */
  const records = async () =>
    (await stack.ctlJson(['history', '--subject', SUBJECT])).flatMap((h) =>
      (h.decisions || []).map((d) => ({ ...d.after, historySource: h.source, sequence: h.sequence })),
    );
  const what = t('what_purpose_channel', { purpose: 'Weekly newsletter', by_channel: t('channel_by_EMAIL') });

  await step('the /p/ link shows the subscribed email box ticked', async () => {
    await stack.ctlOk(['record', '--subject', SUBJECT, '--purpose', PURPOSE, '--channel', 'EMAIL', '--state', 'granted',
      '--source', 'web-signup-v3', '--jurisdiction', 'DE']);
    assert.equal((await check()).verdict, 'ALLOW');
    link = await stack.url(['--subject', SUBJECT]);
    assert.ok(link.startsWith(`${stack.baseUrl}/p/v2.`), link);
    const opened = await open(browser, link);
    page = opened.page;
    assert.equal(opened.response.status(), 200);
    assert.equal(await h1(page), t('preferences_title'));
    assert.equal(await page.$eval(EMAIL_BOX, (el) => el.checked), true);
  });

  await step('untick email, save: the result names the change; consentd denies, citing the new record', async () => {
    await page.click(EMAIL_BOX);
    assert.equal(await page.$eval(EMAIL_BOX, (el) => el.checked), false);
    const response = await clickAndWait(page, SAVE);
    assert.equal(response.status(), 200, `Save answered HTTP ${response.status()}: "${await h1(page)}"${response.status() === 403 ? FORM_HINT : ''}`);
    assert.equal(await h1(page), t('saved_title'));
    firstSaveChanges = await page.$$eval('ul.changes li', (lis) => lis.map((li) => li.textContent.trim()));
    assert.ok(firstSaveChanges.includes(t('change_withdrawn', { what })), `the result page names the change: ${firstSaveChanges}`);

    const verdict = await check();
    assert.equal(verdict.verdict, 'DENY');
    assert.equal(verdict.reason, 'EXPLICIT_DENY');
    withdrawal = (await records()).find((r) => r.recordId === verdict.recordId);
    assert.ok(withdrawal, `record ${verdict.recordId} is in the history`);
    assert.ok(['WITHDRAWN', 'DENIED'].includes(withdrawal.state), withdrawal.state);
    assert.equal(withdrawal.channel, 'EMAIL');
  });

  await step('tick it again, save: ALLOW EXPLICIT_GRANT with the notice version and its SHA-256', async () => {
    const { page: again } = await open(browser, link);
    await page.close();
    page = again;
    assert.equal(await page.$eval(EMAIL_BOX, (el) => el.checked), false);
    await page.click(EMAIL_BOX);
    const response = await clickAndWait(page, SAVE);
    assert.equal(response.status(), 200, `Save answered HTTP ${response.status()}: "${await h1(page)}"${response.status() === 403 ? FORM_HINT : ''}`);
    assert.equal(await h1(page), t('saved_title'));
    const changes = await page.$$eval('ul.changes li', (lis) => lis.map((li) => li.textContent.trim()));
    assert.deepEqual(changes, [t('change_granted', { what })]);

    const verdict = await check();
    assert.equal(verdict.verdict, 'ALLOW');
    assert.equal(verdict.reason, 'EXPLICIT_GRANT');
    assert.notEqual(verdict.recordId, withdrawal.recordId);
    grant = (await records()).find((r) => r.recordId === verdict.recordId);
    assert.ok(grant, `record ${verdict.recordId} is in the history`);
    assert.equal(grant.state, 'GRANTED');

    const [purpose] = await stack.ctlJson(['purpose', 'get', PURPOSE]);
    const notice = purpose.notices.find((n) => n.noticeVersion === purpose.noticeVersion && n.language === 'en');
    assert.ok(notice, 'the catalog holds the English notice text');
    assert.equal(notice.text, stack.noticeText);
    const sha = crypto.createHash('sha256').update(notice.text, 'utf8').digest('hex');
    assert.equal(notice.sha256, sha);
    assert.equal(grant.evidence.noticeVersion, purpose.noticeVersion, JSON.stringify(grant.evidence));
    assert.equal(grant.evidence.noticeSha256, sha, JSON.stringify(grant.evidence));
    assert.equal(withdrawal.evidence.noticeVersion, purpose.noticeVersion);
  });

  await step("the page's history lists both changes, newest first", async () => {
    const { page: fresh } = await open(browser, link);
    await page.close();
    page = fresh;
    const unsubscribed = t(withdrawal.state === 'WITHDRAWN' ? 'history_withdrawn' : 'history_denied', { what });
    const subscribed = t('history_granted', { what });
    // The consent entries (a settings entry is judged by the next step).
    const rows = (await historyRows(page)).filter((r) => r.what !== t('history_preferences'));
    assert.deepEqual(
      rows.map((r) => [r.what, r.source]),
      [
        [subscribed, t('source_preference_center')],
        [unsubscribed, t('source_preference_center')],
        [subscribed, t('source_web_form')],
      ],
    );
    await page.close();
  });

  await step('a save that changed no setting records no settings change', async () => {
    // The person only unticked a box: the saved page and the history must not claim more.
    assert.deepEqual(firstSaveChanges, [t('change_withdrawn', { what })], 'changes listed on the saved page');
    const kinds = (await stack.ctlJson(['history', '--subject', SUBJECT])).map((h) => h.kind);
    assert.deepEqual(kinds.filter((k) => k !== 'DECISIONS_RECORDED'), [], `history kinds: ${kinds}`);
  });

  await step('"Stop all marketing" (one click, no confirmation) denies every marketing purpose on every channel', async () => {
    const { page: fresh } = await open(browser, link);
    page = fresh;
    try {
      const response = await clickAndWait(page, '#stop-all button[type=submit]');
      assert.equal(response.status(), 200, `Stop all answered HTTP ${response.status()}: "${await h1(page)}"${response.status() === 403 ? FORM_HINT : ''}`);
      assert.equal(await h1(page), t('saved_title'));
      const changes = await page.$$eval('ul.changes li', (lis) => lis.map((li) => li.textContent.trim()));
      assert.ok(changes.includes(t('change_stop_all')), `saved page lists: ${changes}`);
    } finally {
      await page.close();
    }
    for (const purpose of ['marketing.newsletter', 'marketing.offers']) {
      for (const channel of ['EMAIL', 'SMS']) {
        const r = await stack.ctl(['check', '--subject', SUBJECT, '--purpose', purpose, '--channel', channel]);
        assert.match(r.stdout, /^DENY /, `${purpose}/${channel}: ${r.stdout}${r.stderr}`);
      }
    }
  }, { independent: true });
});
