'use strict';
// "Download my data" end to end, no mocks (issue 16 item 1): a real Kafka broker, consentd with a
// confirmation keyring, the email sender following the lifecycle topic and the preference center
// over HTTPS. On the customer's preference page they type their address; consentd publishes an
// ExportLinkRequested (sealed) only because that address is linked to the subject; the email
// sender spools a message with the /x/{token} link; that page passes axe-core, and its button
// downloads the subject's export as JSON Lines with the subject's whole history.
//
//   node --test-reporter=spec download.test.js     (tests/browser/CMakeLists.txt sets the paths)

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { waitFor, request, trace } = require('./lib/stack');
const { scenario, open, h1, clickAndWait } = require('./lib/pages');
const { runAxe } = require('./lib/browser');

const SUBJECT = 'dana-download';
const DANA = 'dana@example.de';

let stack;

/** Every .eml in the spool, as text. */
function spooled() {
  return fs.readdirSync(stack.spool).filter((f) => f.endsWith('.eml'))
    .map((f) => fs.readFileSync(path.join(stack.spool, f), 'utf8'));
}

/** The body of a quoted-printable message, decoded (soft breaks joined). */
function body(message) {
  const raw = message.slice(message.indexOf('\r\n\r\n') + 4);
  return raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

/** The value of the hidden input `name` in `html`. */
function hidden(html, name) {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  assert.ok(m, `no hidden ${name} in the page`);
  return m[1];
}

scenario('download my data, end to end', {
  stack: { name: 'download', kafka: true, emailSender: true, confirmations: true }, timeout: 150000,
}, async (ctx) => {
  stack = ctx.stack;
  const { browser, step } = ctx;
  let link;

  await step('the subject has a grant and a linked address', async () => {
    await stack.ctlOk(['record', '--subject', SUBJECT, '--purpose', 'marketing.newsletter', '--channel', 'EMAIL',
      '--state', 'granted', '--source', 'web-signup-v3']);
    await stack.ctlOk(['link', '--subject', SUBJECT, '--email', DANA, '--source', 'crm-sync']);
  });

  await step('the preference page asks for an address and says to check the inbox', async () => {
    const url = await stack.url(['--subject', SUBJECT]);
    const { page } = await open(browser, url);
    const { violations } = await runAxe(page);
    assert.deepEqual(violations.map((v) => `${v.id}: ${v.help}`), []);
    await page.type('#download-email', DANA);
    await clickAndWait(page, 'form[action$="/download"] button[type=submit]');
    assert.match(await h1(page), /Check your inbox/);
    await page.close();
  });

  await step('the email sender spools one message with the /x/ link', async () => {
    const messages = await waitFor('the download message', () => {
      const all = spooled().filter((m) => m.includes(`To: ${DANA}`));
      return all.length > 0 ? all : null;
    }, { timeout: 60000 });
    assert.equal(messages.length, 1);
    const text = body(messages[0]);
    const m = text.match(/https:\/\/\S+\/x\/v2\.[A-Za-z0-9_.-]+/);
    assert.ok(m, `an /x/ link in:\n${text}`);
    link = m[0];
    assert.ok(link.startsWith(`${stack.baseUrl}/x/`), link);
  });

  await step('the link page passes axe-core and offers the download', async () => {
    const { page } = await open(browser, link);
    assert.match(await h1(page), /Download your data/);
    const { violations } = await runAxe(page);
    assert.deepEqual(violations.map((v) => `${v.id}: ${v.help}`), []);
    await page.close();
  });

  await step('the download is JSON Lines with the subject and its whole history', async () => {
    const page = await request(link);
    assert.equal(page.status, 200);
    const form = `nonce=${hidden(page.body, 'nonce')}&csrf=${encodeURIComponent(hidden(page.body, 'csrf'))}`;
    const res = await request(link, {
      method: 'POST', body: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 200, res.body);
    assert.match(res.headers['content-disposition'], /^attachment; filename="my-data-/);
    assert.equal(res.headers['cache-control'], 'no-store');
    const lines = res.body.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].header.subjectId, SUBJECT);
    const records = lines.filter((l) => l.history).flatMap((l) => l.history.records.map((r) => r.record));
    assert.equal(records.length, Number(lines[0].header.historyLength));
    assert.ok(records.some((r) => r.source === 'web-signup-v3'), JSON.stringify(records));
    assert.equal(lines[lines.length - 1].trailer.chainVerified, true);
  });
  trace('download done');
});
