'use strict';
// End to end, no mocks: a real Kafka broker, consentd publishing to it, the reference email
// sender and the preference center over HTTPS. Ann has granted email; a SendRequest through
// Kafka is SENT and its message carries a List-Unsubscribe link; opening that link in Chromium
// records nothing, its one button unsubscribes her, and the next SendRequest is SUPPRESSED by the
// sender's view with EXPLICIT_DENY. A mailbox provider's RFC 8058 POST (curl, exactly as
// providers send it) on the link of a second message works too.
//
//   node --test-reporter=spec one_click.test.js     (tests/browser/CMakeLists.txt sets the paths)

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { waitFor, run, request, trace } = require('./lib/stack');
const { t, scenario, open, text, h1, clickAndWait } = require('./lib/pages');

const ANN = 'ann@example.com';
const NEWSLETTER = 'marketing.newsletter';
const OFFERS = 'marketing.offers';

let stack;

/** The changes the sender's view has applied so far. */
const applied = () => stack.senderMetric('assent_sender_view_records_total', 'result="applied"');

/** Waits until the sender's view has applied `n` changes: Assent promises "within milliseconds",
 * not read-your-writes, so a request sent next is judged on them. */
function waitApplied(n) {
  return waitFor(`the email sender's view to apply ${n} changes`, async () => (await applied()) >= n, {
    timeout: 30000,
  });
}

/** The spooled message of a request (the sender names it sha256(tenant/request_id).eml). */
function messagePath(requestId) {
  const id = crypto.createHash('sha256').update(`${stack.tenant}/${requestId}`).digest('hex');
  return path.join(stack.spool, `${id}.eml`);
}

/** A message's header section, unfolded (RFC 5322 §2.2.3): {name-lowercased: [values]}. */
function headers(message) {
  const end = message.indexOf('\r\n\r\n');
  assert.notEqual(end, -1, 'the message has a header section');
  const unfolded = message.slice(0, end).replace(/\r\n[ \t]+/g, ' ');
  const out = {};
  for (const line of unfolded.split('\r\n')) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    (out[name] = out[name] || []).push(line.slice(colon + 1).trim());
  }
  return out;
}

/** The https URL of a List-Unsubscribe header value ("<https://...>, <mailto:...>"). */
function httpsUnsubscribeUrl(message) {
  const h = headers(message);
  assert.equal(h['list-unsubscribe']?.length, 1, 'one List-Unsubscribe header');
  assert.deepEqual(h['list-unsubscribe-post'], ['List-Unsubscribe=One-Click'], 'RFC 8058 List-Unsubscribe-Post');
  const urls = [...h['list-unsubscribe'][0].matchAll(/<([^>]+)>/g)].map((m) => m[1]);
  const https = urls.filter((u) => u.startsWith('https://'));
  assert.equal(https.length, 1, `one https URL in List-Unsubscribe: ${h['list-unsubscribe'][0]}`);
  return https[0];
}

/** Sends a request through Kafka and waits for its outcome. */
async function send(requestId, purpose = NEWSLETTER) {
  await stack.produceSendRequest(requestId, ANN, { purpose });
  return stack.outcome(requestId);
}

async function check(purpose) {
  const [r] = await stack.ctlJson(['check', '--email', ANN, '--purpose', purpose, '--channel', 'EMAIL'], {
    allowExit: [0, 1],
  });
  return r;
}

async function history() {
  return stack.ctlJson(['history', '--email', ANN]);
}

scenario('one-click unsubscribe, end to end', { stack: { name: 'one-click', kafka: true, emailSender: true }, timeout: 150000 },
  async (ctx) => {
    stack = ctx.stack;
    const { browser, step } = ctx;
    let newsletterUrl;
    let offersUrl;
    let appliedBeforeClick;

    await step('a granted recipient is SENT a message with an RFC 8058 https List-Unsubscribe link', async () => {
      const base = await applied();
      await stack.ctlOk(['record', '--email', ANN, '--purpose', NEWSLETTER, '--channel', 'EMAIL', '--state', 'granted',
        '--source', 'web-signup-v3']);
      await stack.ctlOk(['record', '--email', ANN, '--purpose', OFFERS, '--channel', 'EMAIL', '--state', 'granted',
        '--source', 'web-signup-v3']);
      await waitApplied(base + 2);
      trace('grants applied by the sender');

      const [news, offers] = await Promise.all([send('r-news-1'), send('r-offers-1', OFFERS)]);
      assert.equal(news.status, 'SENT', news.text);
      assert.equal(news.reason, 'EXPLICIT_GRANT', news.text);
      assert.equal(offers.status, 'SENT', offers.text);
      trace('outcomes read');

      const message = await waitFor('the spooled message', () =>
        fs.existsSync(messagePath('r-news-1')) ? fs.readFileSync(messagePath('r-news-1'), 'utf8') : null,
      );
      assert.match(message, /^To: ann@example\.com\r$/m);
      newsletterUrl = httpsUnsubscribeUrl(message);
      assert.ok(newsletterUrl.startsWith(`${stack.baseUrl}/u/v2.`), newsletterUrl);
      offersUrl = httpsUnsubscribeUrl(fs.readFileSync(messagePath('r-offers-1'), 'utf8'));
      assert.notEqual(offersUrl, newsletterUrl);
    });

    await step('GET of the one-click link records nothing (link scanners fetch it)', async () => {
      const before = await history();
      const plain = await request(newsletterUrl);
      assert.equal(plain.status, 200);
      const scanner = await request(newsletterUrl, { method: 'HEAD' });
      assert.ok([200, 405].includes(scanner.status), `HEAD answered ${scanner.status}`);
      assert.deepEqual(await history(), before, 'history unchanged after GET /u/');
      assert.equal((await check(NEWSLETTER)).verdict, 'ALLOW');
    });

    await step('in Chromium the link shows one confirm button; clicking it unsubscribes', async () => {
      const before = await history();
      appliedBeforeClick = await applied();
      const { page, response } = await open(browser, newsletterUrl);
      try {
        assert.equal(response.status(), 200);
        const buttons = await page.$$eval('button, input[type=submit], input[type=button]', (els) =>
          els.map((e) => e.textContent.trim() || e.value),
        );
        assert.deepEqual(buttons, [t('unsubscribe_button')], 'exactly one button: the confirmation');
        assert.match(await h1(page), /Weekly newsletter/);
        assert.deepEqual(await history(), before, 'opening the page recorded nothing');

        const result = await clickAndWait(page, 'form button[type=submit]');
        assert.equal(result.status(), 200);
        assert.equal(await h1(page), t('unsubscribed_title'));
        assert.match(await text(page), /will no longer receive “Weekly newsletter” by email/);
      } finally {
        await page.close();
      }

      const after = await history();
      assert.equal(after.length, before.length + 1, 'one new history record');
      const verdict = await check(NEWSLETTER);
      assert.equal(verdict.verdict, 'DENY');
      assert.equal(verdict.reason, 'EXPLICIT_DENY');
      assert.ok(verdict.recordId, 'the verdict names the withdrawal');
    });

    await step('the next SendRequest is SUPPRESSED with EXPLICIT_DENY by the sender', async () => {
      const verdict = await check(NEWSLETTER);
      await waitApplied(appliedBeforeClick + 1);
      const outcome = await send('r-news-2');
      assert.equal(outcome.status, 'SUPPRESSED', outcome.text);
      assert.equal(outcome.reason, 'EXPLICIT_DENY', outcome.text);
      assert.equal(outcome.record_id, verdict.recordId, outcome.text);
      // Judged by the sender's own view, fed by consentd's events through Kafka.
      assert.equal(outcome.verdict_source, 'LOCAL_VIEW', outcome.text);
      assert.ok(!fs.existsSync(messagePath('r-news-2')), 'no message spooled');
    });

    await step("a mailbox provider's one-click POST (curl) answers 200 and unsubscribes", async () => {
      const before = await history();
      const curl = await run('curl', ['-sS', '-k', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST',
        '-H', 'Content-Type: application/x-www-form-urlencoded', '--data', 'List-Unsubscribe=One-Click', offersUrl]);
      assert.equal(curl.code, 0, curl.stderr);
      assert.equal(curl.stdout, '200');
      const verdict = await check(OFFERS);
      assert.equal(verdict.verdict, 'DENY');
      assert.equal(verdict.reason, 'EXPLICIT_DENY');
      const after = await history();
      assert.equal(after.length, before.length + 1);

      // Sent again (providers retry): still 200, and nothing new is recorded.
      const again = await run('curl', ['-sS', '-k', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST',
        '-H', 'Content-Type: application/x-www-form-urlencoded', '--data', 'List-Unsubscribe=One-Click', offersUrl]);
      assert.equal(again.stdout, '200');
      assert.deepEqual(await history(), after, 'a repeated one-click POST records nothing');
    });
  });
