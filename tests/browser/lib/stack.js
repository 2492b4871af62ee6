'use strict';
// The real services for the browser tests: consentd, the preference center over HTTPS and, when
// asked, a Kafka broker and the reference email sender, each started from the build in a
// temporary directory of its own and stopped again (also when the test fails or is killed).
//
// Binaries and the source tree come from the environment that tests/browser/CMakeLists.txt sets
// (ASSENT_CONSENTD, ASSENT_PREFCENTER, ASSENT_EMAIL_SENDER, ASSENT_ASSENTCTL, ASSENT_SOURCE_DIR);
// without it they default to <source>/build/bin. Nothing here sleeps to wait: every wait polls a
// condition until a deadline.

const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const https = require('node:https');
const { spawn, execFile } = require('node:child_process');

const SOURCE_DIR = process.env.ASSENT_SOURCE_DIR || path.resolve(__dirname, '..', '..', '..');
const BIN_DIR = path.join(SOURCE_DIR, 'build', 'bin');
const BIN = {
  consentd: process.env.ASSENT_CONSENTD || path.join(BIN_DIR, 'consentd'),
  prefcenter: process.env.ASSENT_PREFCENTER || path.join(BIN_DIR, 'prefcenter'),
  emailSender: process.env.ASSENT_EMAIL_SENDER || path.join(BIN_DIR, 'email_sender'),
  assentctl: process.env.ASSENT_ASSENTCTL || path.join(BIN_DIR, 'assentctl'),
};
const KAFKA_SH = path.join(SOURCE_DIR, 'tools', 'kafka', 'kafka.sh');
// The local CA and certificates tools/run.sh uses, and the policy that authorizes them: the stack
// runs every gRPC connection over mTLS, as tools/run.sh and deploy/ do.
const PKI_SH = path.join(SOURCE_DIR, 'tools', 'pki.sh');
const POLICY = path.join(SOURCE_DIR, 'deploy', 'policy.example.yaml');
const PROTO_DIR = path.join(SOURCE_DIR, 'proto');
const SENDER_PROTO = 'assent/sender/v1/sender.proto';
const TENANT = 'acme';

const T0 = Date.now();
/** With ASSENT_BROWSER_TRACE=1, prints how long each step took (for the timings). */
function trace(what) {
  if (process.env.ASSENT_BROWSER_TRACE === '1') console.log(`# ${((Date.now() - T0) / 1000).toFixed(2)}s ${what}`);
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Thrown by a waitFor condition to stop waiting at once (a process died). */
class Fatal extends Error {}

/**
 * Polls `fn` (sync or async) every `interval` ms until it returns a truthy value, which it
 * returns; throws with `what` (and the last error thrown by `fn`) after `timeout` ms, or at once
 * when `fn` throws a Fatal.
 */
async function waitFor(what, fn, { timeout = 30000, interval = 50 } = {}) {
  const deadline = Date.now() + timeout;
  let lastError = null;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      lastError = null;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
    }
    await delay(interval);
  }
}

/** Runs a program; resolves {code, stdout, stderr} (stdout as a Buffer when `binary`). */
function run(file, args, { input, binary = false, timeout = 60000, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { encoding: binary ? 'buffer' : 'utf8', maxBuffer: 64 << 20, timeout, env: env || process.env },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${err.message}\n${stderr}`));
          return;
        }
        resolve({ code: err ? err.code : 0, stdout, stderr: String(stderr) });
      },
    );
    if (input !== undefined) child.stdin.end(input);
  });
}

/** A TCP port that was free a moment ago (for programs that cannot take port 0). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * A free TCP port below Linux's ephemeral range (32768 and up): one reserved ahead for a program
 * started later. A port from freePort() can be handed out again, between its check and that
 * program's start, to a process binding port 0 (consentd did: "Address already in use").
 */
async function freePortBelowEphemeral() {
  for (let attempt = 0; attempt < 100; ++attempt) {
    const port = 20000 + crypto.randomInt(12000);
    const free = await new Promise((resolve) => {
      const server = net.createServer();
      server.unref();
      server.on('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below 32000');
}

/** GET or POST over HTTPS to the test server, certificate not checked (a throwaway CA). */
function request(url, { method = 'GET', headers = {}, body } = {}) {
  if (body !== undefined) headers = { ...headers, 'Content-Length': Buffer.byteLength(body) };
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, rejectUnauthorized: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.setTimeout(15000, () => req.destroy(new Error(`${method} ${url}: timed out`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const b64url = (buf) => Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

// Every process any Stack started, killed when this process exits however it exits. The services
// are also started under `setpriv --pdeathsig SIGKILL`, so that even a SIGKILL of this process
// (ctest's timeout) takes them along; the broker has kafka.sh's --owner-pid watcher.
const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => process.exit(128 + os.constants.signals[signal]));
}

class Stack {
  constructor({ name = 'browser', kafka = false, emailSender = false, confirmations = false } = {}) {
    this.name = name;
    this.wantKafka = kafka;
    this.wantEmailSender = emailSender;
    // Double opt-in: consentd seals ConfirmationRequested addresses with a confirmation keyring
    // that the email sender opens (confirm.test.js).
    this.wantConfirmations = confirmations;
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), `assent-${name}-`));
    this.procs = {};
    this.kafkaDir = null;
    this.tenant = TENANT;
  }

  /** Starts everything; on failure stops what did start and rethrows. */
  static async start(options) {
    const stack = new Stack(options);
    try {
      await stack.#start();
    } catch (err) {
      err.message += `\n${stack.logs()}`;
      await stack.stop({ keep: true });
      throw err;
    }
    return stack;
  }

  file(name) {
    return path.join(this.tmp, name);
  }

  async #start() {
    for (const [what, bin] of Object.entries(BIN)) {
      if (what === 'emailSender' && !this.wantEmailSender) continue;
      if (!fs.existsSync(bin)) throw new Error(`${what} not found at ${bin}: build it first`);
    }
    await this.#makePki();
    trace('pki made');
    // The link keyring shared by consentd, the preference center and the email sender.
    this.linkSecret = crypto.randomBytes(32);
    this.keyring = this.file('link-keyring.yaml');
    fs.writeFileSync(this.keyring, `keys:\n  - id: k1\n    secret: "${this.linkSecret.toString('base64')}"\n`, {
      mode: 0o600,
    });
    if (this.wantConfirmations) {
      this.confirmationKeyring = this.file('confirmation-keyring.yaml');
      fs.writeFileSync(this.confirmationKeyring,
        `keys:\n  - id: c1\n    secret: "${crypto.randomBytes(32).toString('base64')}"\n`, { mode: 0o600 });
    }
    this.contactSecret = this.file('contact-key.secret');
    fs.writeFileSync(this.contactSecret, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600 });

    if (this.wantKafka) {
      await this.#startKafka();
      trace('kafka started');
    }

    // The preference center's port is chosen here (consentd and the email sender must know its
    // URL before it starts); everything else binds port 0 and reports through --port-file.
    this.pcPort = await freePortBelowEphemeral();
    this.baseUrl = `https://127.0.0.1:${this.pcPort}`;

    const consentdArgs = [
      '--listen', '127.0.0.1:0',
      '--metrics-listen', '127.0.0.1:0',
      '--data-dir', this.file('consentd-data'),
      '--contact-key-secret-file', this.contactSecret,
      '--links-keyring-file', this.keyring,
      '--links-base-url', this.baseUrl,
      '--store-sync-writes', 'false',
      '--port-file', this.file('consentd.port'),
      '--tls-cert', this.certPem,
      '--tls-key', this.keyPem,
      '--tls-ca', this.caPem,
      '--auth-policy-file', POLICY,
    ];
    if (this.wantKafka) consentdArgs.push('--kafka-brokers', this.brokers, '--kafka-partitions', '1');
    // The setting's name comes with consentd's double opt-in (branch lc-optin-core).
    if (this.wantConfirmations) consentdArgs.push('--confirmation-keyring-file', this.confirmationKeyring);
    const consentdLines = await this.#spawn('consentd', BIN.consentd, consentdArgs, this.file('consentd.port'));
    this.consentd = consentdLines[0];
    trace('consentd serving');

    await this.#startPrefcenter();
    trace('prefcenter serving');
    await this.#seedCatalog();
    trace('catalog seeded');
    if (this.wantEmailSender) {
      await this.#startEmailSender();
      trace('email sender ready');
    }
  }

  async #makePki() {
    const dir = this.file('pki');
    const r = await run(PKI_SH, [dir]);
    if (r.code !== 0) throw new Error(`pki.sh: ${r.stderr}${r.stdout}`);
    this.caPem = path.join(dir, 'ca.pem');
    this.certPem = path.join(dir, 'server.pem');
    this.keyPem = path.join(dir, 'server-key.pem');
    // --tls-ca/--tls-cert/--tls-key of the client certificate spiffe://assent.local/<name>.
    this.clientTls = (name) => [
      '--tls-ca', this.caPem,
      '--tls-cert', path.join(dir, `${name}.pem`),
      '--tls-key', path.join(dir, `${name}-key.pem`),
    ];
  }

  async #startKafka() {
    this.kafkaDir = this.file('kafka');
    // kafka.sh needs fixed ports; it refuses ones in use, so a lost race is retried.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const controller = await freePort();
      const r = await run(
        KAFKA_SH,
        ['start', '--dir', this.kafkaDir, '--port', String(port), '--controller-port', String(controller),
          '--owner-pid', String(process.pid)],
        { timeout: 120000 },
      );
      if (r.code === 0) {
        this.brokers = `127.0.0.1:${port}`;
        return;
      }
      if (attempt >= 3) throw new Error(`kafka.sh start failed:\n${r.stdout}\n${r.stderr}`);
      await run(KAFKA_SH, ['stop', '--dir', this.kafkaDir]);
    }
  }

  async #startPrefcenter() {
    const args = [
      '--listen', `127.0.0.1:${this.pcPort}`,
      '--metrics-listen', '127.0.0.1:0',
      '--http-tls-cert', this.certPem,
      '--http-tls-key', this.keyPem,
      '--consentd', this.consentd,
      ...this.clientTls('prefcenter'),
      '--link-keyring-file', this.keyring,
      '--public-url', this.baseUrl,
      '--port-file', this.file('prefcenter.port'),
      // The tests load many pages from one address within a few seconds.
      '--limits-client-rate', '1000', '--limits-client-burst', '1000',
      '--limits-link-rate', '1000', '--limits-link-burst', '1000',
    ];
    if (this.brokers) args.push('--resend-brokers', this.brokers);
    const lines = await this.#spawn('prefcenter', BIN.prefcenter, args, this.file('prefcenter.port'));
    if (!lines[0].endsWith(`:${this.pcPort}`)) throw new Error(`prefcenter serves ${lines[0]}, not port ${this.pcPort}`);
  }

  async #seedCatalog() {
    this.noticeText =
      'We send you our weekly newsletter with offers from Acme Corp.\n\n' +
      'You can unsubscribe at any time with the link in every message or on this page.';
    this.noticeFile = this.file('notice-en.txt');
    fs.writeFileSync(this.noticeFile, this.noticeText);
    await this.ctlOk(['tenant', 'create', TENANT, '--name', 'Acme Corp']);
    await this.ctlOk(['purpose', 'create', 'marketing.newsletter', '--kind', 'MARKETING', '--basis', 'CONSENT',
      '--channels', 'EMAIL,SMS', '--notice-version', '1', '--lifespan', '730d', '--name', 'Weekly newsletter',
      '--title', 'en=Weekly newsletter', '--description', 'en=News and offers from Acme Corp, once a week.',
      '--notice-file', `en=${this.noticeFile}`]);
    await this.ctlOk(['purpose', 'create', 'marketing.offers', '--kind', 'MARKETING', '--basis', 'CONSENT',
      '--channels', 'EMAIL,SMS', '--notice-version', '1', '--name', 'Special offers',
      '--title', 'en=Special offers']);
    await this.ctlOk(['policy', 'set', '--rule', 'US:EMAIL:MARKETING:OPT_OUT', '--rule', 'EU:*:*:OPT_IN']);
  }

  async #startEmailSender() {
    this.spool = this.file('spool');
    fs.mkdirSync(this.spool);
    const config = this.file('email-sender.yaml');
    fs.writeFileSync(
      config,
      [
        'email:',
        '  from: "Acme <news@example.com>"',
        'templates:',
        '  weekly:',
        '    subject: "Your week at Acme, {{name}}"',
        '    body: "Hello {{name}},\\n\\nhere is what happened this week.\\n"',
        '',
      ].join('\n'),
    );
    const lines = await this.#spawn('email_sender', BIN.emailSender, [
      '--config', config,
      '--kafka-brokers', this.brokers,
      '--service', this.consentd,
      ...this.clientTls('email-sender'),
      '--contact-key-secret-file', this.contactSecret,
      '--metrics-listen', '127.0.0.1:0',
      '--port-file', this.file('email_sender.port'),
      '--enforcement-catalog-cache-file', this.file('email-catalog.cache'),
      '--email-spool-dir', this.spool,
      '--email-link-keyring-file', this.keyring,
      '--email-unsubscribe-url', `${this.baseUrl}/u/{token}`,
      '--email-preferences-url', `${this.baseUrl}/p/{token}`,
      ...(this.wantConfirmations
        ? ['--email-confirmations-enabled', 'true', '--email-confirmation-keyring-file', this.confirmationKeyring]
        : []),
    ], this.file('email_sender.port'));
    this.senderMetrics = `http://${lines[0]}`;
    trace('email sender serving metrics');
    // Ready once its view has caught up and its consumer runs.
    await waitFor('the email sender to be ready', async () => (await httpGet(`${this.senderMetrics}/readyz`)).status === 200, {
      timeout: 60000,
      interval: 100,
    });
  }

  /** Spawns a service logging to <tmp>/<name>.log; resolves the lines of its port file. */
  async #spawn(name, bin, args, portFile) {
    const logPath = this.file(`${name}.log`);
    const fd = fs.openSync(logPath, 'a');
    const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', bin, ...args], { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    child.exited = false;
    child.on('exit', (code, signal) => {
      child.exited = true;
      child.exitStatus = signal || code;
      liveChildren.delete(child);
    });
    liveChildren.add(child);
    this.procs[name] = child;
    const text = await waitFor(`${name} to write ${path.basename(portFile)}`, () => {
      if (child.exited) throw new Fatal(`${name} exited (${child.exitStatus}) before serving`);
      if (!fs.existsSync(portFile)) return null;
      const t = fs.readFileSync(portFile, 'utf8');
      return t.trim() ? t : null;
    }, { timeout: 30000 });
    return text.split('\n');
  }

  log(name) {
    try {
      return fs.readFileSync(this.file(`${name}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  /** The end of every service's log, for a failure message. */
  logs(lines = 25) {
    const out = [];
    for (const name of ['consentd', 'prefcenter', 'email_sender']) {
      const text = this.log(name);
      if (!text) continue;
      out.push(`--- ${name}.log (last ${lines} lines) ---`, ...text.trimEnd().split('\n').slice(-lines));
    }
    return out.join('\n');
  }

  /** Stops every process (SIGTERM, then SIGKILL after 10 s) and the broker; removes the temp dir
   * unless `keep` (or ASSENT_KEEP_TMP=1). */
  async stop({ keep = false } = {}) {
    const children = Object.values(this.procs).reverse();
    for (const child of children) {
      if (!child.exited) child.kill('SIGTERM');
    }
    for (const child of children) {
      try {
        await waitFor('a process to stop', () => child.exited, { timeout: 10000 });
      } catch {
        child.kill('SIGKILL');
      }
    }
    trace('services stopped');
    if (this.kafkaDir) await run(KAFKA_SH, ['stop', '--dir', this.kafkaDir]).catch(() => {});
    trace('kafka stopped');
    if (keep || process.env.ASSENT_KEEP_TMP === '1') {
      console.log(`# kept ${this.tmp}`);
    } else {
      fs.rmSync(this.tmp, { recursive: true, force: true });
    }
  }

  // --- assentctl --------------------------------------------------------------------------------

  /** Runs assentctl against this consentd and tenant; resolves {code, stdout, stderr}. */
  ctl(args, { json = false } = {}) {
    const global = ['--server', this.consentd, '--tenant', TENANT, ...this.clientTls('admin')];
    if (json) global.push('--json');
    return run(BIN.assentctl, [...global, ...args]);
  }

  /** assentctl that must exit 0; resolves stdout. */
  async ctlOk(args, options) {
    const r = await this.ctl(args, options);
    if (r.code !== 0) throw new Error(`assentctl ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** assentctl --json: every line of its output parsed. */
  async ctlJson(args, { allowExit = [0] } = {}) {
    const r = await this.ctl(args, { json: true });
    if (!allowExit.includes(r.code)) throw new Error(`assentctl --json ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
  }

  /** A link minted by consentd's CreateLink (`assentctl url`). */
  async url(targetArgs, extra = []) {
    const out = await this.ctlOk(['url', ...targetArgs, ...extra]);
    const m = /^url\s+(\S+)/m.exec(out);
    if (!m) throw new Error(`assentctl url printed no url:\n${out}`);
    return m[1];
  }

  /**
   * A link minted here with the v2 format of libs/links/token.h, for what consentd will not
   * mint (an expiry in the past, a tenant it does not know). `target` is "s:<subject>"; `expire`
   * unix seconds.
   */
  mintLocal({ tenant = TENANT, kind = 'p', target, purpose = '', channel = 0, expire }) {
    const key = crypto.createHmac('sha256', this.linkSecret).update(`assent/link-key/v2/${tenant}`).digest();
    const payload = [tenant, kind, target, purpose, String(channel), String(expire)].join('\n');
    const signed = `v2.k1.${b64url(Buffer.from(payload))}`;
    const mac = b64url(crypto.createHmac('sha256', key).update(signed).digest());
    return `${this.baseUrl}/${kind}/${signed}.${mac}`;
  }

  // --- Kafka: send requests and their outcomes --------------------------------------------------

  /** Produces one SendRequest (text format fields) to the email requests topic. */
  async produceSendRequest(requestId, email, { purpose = 'marketing.newsletter', template = 'weekly' } = {}) {
    const text =
      `request_id: "${requestId}" tenant: "${TENANT}" purpose_id: "${purpose}" template_id: "${template}" ` +
      `contact_point { type: CONTACT_EMAIL value: "${email}" } payload { key: "name" value: "Ann" }`;
    const enc = await run('protoc', [`-I${PROTO_DIR}`, '--encode=assent.sender.v1.SendRequest', SENDER_PROTO], {
      input: text,
      binary: true,
    });
    if (enc.code !== 0) throw new Error(`protoc --encode: ${enc.stderr}`);
    const file = this.file(`${requestId}.bin`);
    fs.writeFileSync(file, enc.stdout);
    const r = await run('kcat', ['-b', this.brokers, '-P', '-t', 'assent.email.requests.v1', '-k', requestId, file]);
    if (r.code !== 0) throw new Error(`kcat -P: ${r.stderr}`);
  }

  /** Every SendOutcome on the outcomes topic so far (committed ones), decoded: [{request_id, status, reason, record_id, ...}]. */
  async outcomes() {
    const r = await run(
      'kcat',
      ['-b', this.brokers, '-C', '-t', 'assent.email.outcomes.v1', '-o', 'beginning', '-e', '-q', '-f', '%R%s'],
      { binary: true },
    );
    if (r.code !== 0) throw new Error(`kcat -C: ${r.stderr}`);
    const out = [];
    const buf = r.stdout;
    for (let at = 0; at + 4 <= buf.length; ) {
      const len = buf.readInt32BE(at);
      at += 4;
      if (len < 0) continue;
      const dec = await run('protoc', [`-I${PROTO_DIR}`, '--decode=assent.sender.v1.SendOutcome', SENDER_PROTO], {
        input: buf.subarray(at, at + len),
      });
      at += len;
      if (dec.code !== 0) throw new Error(`protoc --decode: ${dec.stderr}`);
      out.push(parseTextFormat(dec.stdout));
    }
    return out;
  }

  /** Waits for the outcome of `requestId`. */
  async outcome(requestId, timeout = 60000) {
    return waitFor(`the outcome of ${requestId}`, async () => (await this.outcomes()).find((o) => o.request_id === requestId), {
      timeout,
      interval: 200,
    });
  }

  /** The email sender's metric value (summed over the series whose labels contain `labelPart`). */
  async senderMetric(name, labelPart = '') {
    const { body } = await httpGet(`${this.senderMetrics}/metrics`);
    let sum = 0;
    for (const line of body.split('\n')) {
      if (!line.startsWith(name) || line.startsWith('#')) continue;
      if (line[name.length] !== '{' && line[name.length] !== ' ') continue;
      if (labelPart && !line.includes(labelPart)) continue;
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }
}

/** Top-level scalar fields of protobuf text format ("name: value" lines), strings unquoted. */
function parseTextFormat(text) {
  const out = {};
  let depth = 0;
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t.endsWith('{')) depth++;
    else if (t === '}') depth--;
    else if (depth === 0) {
      const m = /^(\w+): (.*)$/.exec(t);
      if (m) out[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
    }
  }
  out.text = text;
  return out;
}

function httpGet(url) {
  return new Promise((resolve, reject) => {
    const req = require('node:http').get(url, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url}: timed out`)));
  });
}

module.exports = { trace, Stack, SOURCE_DIR, BIN, TENANT, waitFor, run, request, parseTextFormat };
