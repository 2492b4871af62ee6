#!/usr/bin/env node
'use strict';
// Preference-center preview and browser check.
//
//   cd tests/browser && npm ci && node preview.js /tmp/shots [--lang=en,de] [--only=preferences]
//
// Renders every template in services/prefcenter/assets/templates with every sample view model
// in services/prefcenter/assets/samples (merging locales/<lang>.json as `t`), writes the HTML and
// the stylesheet to a temporary folder, serves them from 127.0.0.1 with the service's CSP, and
// loads each page in Debian's Chromium at 1280x800 and 390x844 in every language. A page fails on
// any axe-core WCAG 2.1 A/AA violation, any CSP violation, any console error, horizontal scroll at
// 390 px, or a broken structure (lang, one h1, landmarks, skip link, escaping). The preferences
// page is also walked with the keyboard. Static checks run first: locales agree on keys and
// placeholders, templates use only escaped variables and known keys, samples only hold strings
// and booleans, brand colours meet the contrast the stylesheet needs. When g++, kainjow and
// nlohmann-json are installed, every page is also rendered with kainjow (the C++ engine) and must
// be byte-identical. Screenshots go to the folder given as the first argument. Exit code 0 only
// when everything passed; the last line is "N passed, N failed".

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { execFileSync } = require('node:child_process');
const Mustache = require('mustache');
const browserLib = require('./lib/browser');

const ASSETS = path.resolve(__dirname, '../../services/prefcenter/assets');
const TEMPLATES = path.join(ASSETS, 'templates');
const LOCALES = path.join(ASSETS, 'locales');
const SAMPLES = path.join(ASSETS, 'samples');
const CSS_FILE = path.join(ASSETS, 'prefcenter.css');
// View-model fields that only ever land in attributes (their escaping is checked by the DOM
// checks: no scripts, handlers or autofocus may appear).
const ATTRIBUTE_FIELDS = new Set(['t', 'name', 'csrf', 'nonce', 'token', 'action', 'logo_url', 'url', 'privacy_url',
  'back_url', 'preferences_url', 'retry_url', 'value', 'id', 'css_url', 'csp_nonce', 'when_iso']);
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'mobile', width: 390, height: 844, isMobile: true, hasTouch: true },
];

// ---- Results -----------------------------------------------------------------------------------

const results = []; // {name, ok, problems: [], notes: []}
function record(name, problems, notes = []) {
  results.push({ name, ok: problems.length === 0, problems, notes });
  const mark = problems.length === 0 ? 'ok  ' : 'FAIL';
  console.log(`${mark} ${name}${notes.length ? `  (${notes.join('; ')})` : ''}`);
  for (const p of problems) console.log(`       - ${p}`);
}

// ---- Arguments ---------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { out: null, langs: null, only: null, keep: false };
  for (const a of argv) {
    if (a.startsWith('--lang=')) opts.langs = a.slice(7).split(',').filter(Boolean);
    else if (a.startsWith('--only=')) opts.only = a.slice(7).split(',').filter(Boolean);
    else if (a === '--keep') opts.keep = true;
    else if (a === '-h' || a === '--help') {
      console.log('usage: node preview.js SCREENSHOT_DIR [--lang=en,de] [--only=preferences,error--429] [--keep]');
      process.exit(0);
    } else if (!a.startsWith('--') && !opts.out) opts.out = path.resolve(a);
    else {
      console.error(`unknown argument: ${a}`);
      process.exit(2);
    }
  }
  if (!opts.out) {
    console.error('usage: node preview.js SCREENSHOT_DIR [--lang=en,de] [--only=NAME,...] [--keep]');
    process.exit(2);
  }
  return opts;
}

// ---- Escaping: exactly what kainjow mustache does, so the preview matches the C++ output ------

function kainjowEscape(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}
Mustache.escape = kainjowEscape;

// ---- Locales -----------------------------------------------------------------------------------

function placeholders(s) {
  return [...String(s).matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]).sort();
}

function loadLocales() {
  const locales = {};
  for (const f of fs.readdirSync(LOCALES).filter((f) => f.endsWith('.json')).sort()) {
    locales[path.basename(f, '.json')] = JSON.parse(fs.readFileSync(path.join(LOCALES, f), 'utf8'));
  }
  const problems = [];
  const en = locales.en;
  if (!en) problems.push('locales/en.json is missing');
  for (const [lang, dict] of Object.entries(locales)) {
    for (const [k, v] of Object.entries(dict)) {
      if (!/^[a-z0-9]+(_[a-zA-Z0-9]+)*$/.test(k)) problems.push(`${lang}: key "${k}" is not flat snake_case`);
      if (typeof v !== 'string' || v.trim() === '') problems.push(`${lang}: "${k}" is empty or not a string`);
      if (/<|>|&/.test(v)) problems.push(`${lang}: "${k}" contains markup characters`);
    }
    if (!en || lang === 'en') continue;
    for (const k of Object.keys(en)) {
      if (!(k in dict)) problems.push(`${lang}: missing key "${k}"`);
      else if (placeholders(en[k]).join() !== placeholders(dict[k]).join()) {
        problems.push(`${lang}: "${k}" has placeholders {${placeholders(dict[k])}} but en has {${placeholders(en[k])}}`);
      }
    }
    for (const k of Object.keys(dict)) if (!(k in en)) problems.push(`${lang}: extra key "${k}" not in en`);
  }
  record('locales: same keys and placeholders in ' + Object.keys(locales).join(', '), problems,
    [`${Object.keys(en || {}).length} keys`]);
  return locales;
}

// ---- Templates ---------------------------------------------------------------------------------

function loadTemplates(en) {
  const templates = {};
  for (const f of fs.readdirSync(TEMPLATES).filter((f) => f.endsWith('.mustache')).sort()) {
    templates[path.basename(f, '.mustache')] = fs.readFileSync(path.join(TEMPLATES, f), 'utf8');
  }
  const problems = [];
  const usedKeys = new Set();
  for (const [name, src] of Object.entries(templates)) {
    if (src.includes('{{{') || /\{\{\s*&/.test(src)) problems.push(`${name}: unescaped variable ({{{ }}} or {{& }})`);
    if (/\{\{\s*[=!]/.test(src)) problems.push(`${name}: delimiter changes or comments are not used here`);
    if (/<script/i.test(src)) problems.push(`${name}: <script> is not allowed (no JavaScript, strict CSP)`);
    if (/\sstyle\s*=/i.test(src)) problems.push(`${name}: inline style attribute (blocked by the CSP)`);
    if (/\son[a-z]+\s*=/i.test(src)) problems.push(`${name}: inline event handler attribute`);
    if (/<style(?![^>]*nonce="\{\{csp_nonce\}\}")/i.test(src)) problems.push(`${name}: <style> without nonce="{{csp_nonce}}"`);
    for (const m of src.matchAll(/\{\{\s*[#^/]?\s*t\.([A-Za-z0-9_]+)\s*\}\}/g)) {
      usedKeys.add(m[1]);
      if (!(m[1] in en)) problems.push(`${name}: {{t.${m[1]}}} is not in locales/en.json`);
    }
    for (const m of src.matchAll(/\{\{>\s*([A-Za-z0-9_]+)\s*\}\}/g)) {
      if (!(m[1] in templates)) problems.push(`${name}: partial ${m[1]} does not exist`);
    }
    try {
      Mustache.parse(src);
    } catch (e) {
      problems.push(`${name}: ${e.message}`);
    }
  }
  record('templates: escaped variables only, no scripts or inline styles, known keys', problems,
    [`${Object.keys(templates).length} templates`]);
  return { templates, usedKeys };
}

// ---- Samples -----------------------------------------------------------------------------------
// A sample is the view model the C++ passes, minus `t`. Values that depend on the page language
// are written in a small notation that the C++ computes itself (see assets/README.md):
//   {"$t": KEY, "params": {...}}  t[KEY] with its {placeholders} filled (the C++ does this)
//   {"$i18n": {"en": ..., ...}}   tenant catalog text in the page language (fallback en)
//   {"$date": ISO, "style": "date"|"datetime", "tz": ZONE}   a date formatted for the language

function lintSample(name, value, where, problems, usedKeys, locales) {
  if (value === null || typeof value === 'number') {
    problems.push(`${name}: ${where} is ${value === null ? 'null' : 'a number'}; use strings and booleans only (kainjow has neither)`);
  } else if (typeof value === 'string') {
    if (value === '') problems.push(`${name}: ${where} is "" (kainjow treats "" as true in sections: omit the field instead)`);
  } else if (Array.isArray(value)) {
    if (value.length === 0) problems.push(`${name}: ${where} is an empty list; omit it or its wrapper`);
    value.forEach((v, i) => lintSample(name, v, `${where}[${i}]`, problems, usedKeys, locales));
  } else if (typeof value === 'object') {
    if ('$t' in value) {
      usedKeys.add(value.$t);
      for (const [lang, dict] of Object.entries(locales)) {
        if (!(value.$t in dict)) problems.push(`${name}: ${where} uses key ${value.$t}, missing in ${lang}`);
      }
      const want = placeholders(locales.en[value.$t] || '').join();
      const have = Object.keys(value.params || {}).sort().join();
      if (want !== have) problems.push(`${name}: ${where} ${value.$t} needs params {${want}}, sample gives {${have}}`);
      for (const [k, v] of Object.entries(value.params || {})) lintSample(name, v, `${where}.params.${k}`, problems, usedKeys, locales);
    } else if ('$i18n' in value) {
      if (!value.$i18n.en) problems.push(`${name}: ${where} $i18n needs an "en" text`);
    } else if ('$date' in value) {
      if (Number.isNaN(Date.parse(value.$date))) problems.push(`${name}: ${where} $date is not a date`);
    } else {
      for (const [k, v] of Object.entries(value)) {
        if (k === 't') problems.push(`${name}: samples must not contain t (the preview merges the locale)`);
        lintSample(name, v, where ? `${where}.${k}` : k, problems, usedKeys, locales);
      }
    }
  }
}

function fill(template, params, key) {
  const out = template.replace(/\{([a-z_]+)\}/g, (m, p) => {
    if (!(p in params)) throw new Error(`placeholder {${p}} of ${key} has no value`);
    return params[p];
  });
  return out;
}

function resolve(value, lang, locales) {
  if (Array.isArray(value)) return value.map((v) => resolve(v, lang, locales));
  if (value && typeof value === 'object') {
    if ('$t' in value) {
      const params = {};
      for (const [k, v] of Object.entries(value.params || {})) params[k] = resolve(v, lang, locales);
      return fill(locales[lang][value.$t], params, value.$t);
    }
    if ('$i18n' in value) return value.$i18n[lang] || value.$i18n.en;
    if ('$date' in value) {
      const opts = value.style === 'date' ? { dateStyle: 'long' } : { dateStyle: 'medium', timeStyle: 'short' };
      return new Intl.DateTimeFormat(lang, { ...opts, timeZone: value.tz || 'UTC' }).format(new Date(value.$date));
    }
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolve(v, lang, locales);
    return out;
  }
  return value;
}

function luminance(hex) {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

function loadSamples(templates, locales, usedKeys) {
  const samples = [];
  const problems = [];
  const pages = new Set();
  for (const f of fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.json')).sort()) {
    const name = path.basename(f, '.json');
    const page = name.split('--')[0];
    let data;
    try {
      data = JSON.parse(fs.readFileSync(path.join(SAMPLES, f), 'utf8'));
    } catch (e) {
      problems.push(`${name}: ${e.message}`);
      continue;
    }
    if (!(page in templates)) problems.push(`${name}: no template ${page}.mustache`);
    for (const field of ['lang', 'csp_nonce', 'css_url', 'brand', 'page_title']) {
      if (!(field in data)) problems.push(`${name}: missing ${field}`);
    }
    const brand = data.brand || {};
    for (const field of ['primary_color', 'accent_color']) {
      if (!/^#[0-9a-f]{6}$/.test(brand[field] || '')) problems.push(`${name}: brand.${field} must be #rrggbb (lower case)`);
    }
    if (/^#[0-9a-f]{6}$/.test(brand.primary_color || '') && contrast(brand.primary_color, '#ffffff') < 4.5) {
      problems.push(`${name}: brand.primary_color ${brand.primary_color} has contrast ${contrast(brand.primary_color, '#ffffff').toFixed(2)} < 4.5 on white`);
    }
    if (/^#[0-9a-f]{6}$/.test(brand.accent_color || '') && contrast(brand.accent_color, '#ffffff') < 3) {
      problems.push(`${name}: brand.accent_color ${brand.accent_color} has contrast ${contrast(brand.accent_color, '#ffffff').toFixed(2)} < 3 on white`);
    }
    if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(data.csp_nonce || '')) problems.push(`${name}: csp_nonce must be base64, 16+ characters`);
    lintSample(name, data, '', problems, usedKeys, locales);
    pages.add(page);
    samples.push({ name, page, data });
  }
  for (const t of Object.keys(templates)) {
    const isPartial = Object.values(templates).some((src) => new RegExp(`\\{\\{>\\s*${t}\\s*\\}\\}`).test(src));
    if (!pages.has(t) && !isPartial) problems.push(`template ${t} has no sample and is no partial`);
  }
  record('samples: strings and booleans only, known keys, brand contrast', problems, [`${samples.length} samples`]);
  return samples;
}

// ---- Rendering ---------------------------------------------------------------------------------

function render(templates, sample, lang, locales) {
  const view = { ...resolve(sample.data, lang, locales), lang, t: locales[lang] };
  const partials = {};
  for (const [k, v] of Object.entries(templates)) partials[k] = v;
  return { view, html: Mustache.render(templates[sample.page], view, partials) };
}

function dropBlankLines(s) {
  return s.replace(/\n[ \t]*(?=\n)/g, '');
}

function buildKainjow(workDir) {
  const src = path.join(__dirname, 'kainjow_render.cc');
  const bin = path.join(workDir, 'kainjow_render');
  const have = ['/usr/include/kainjow/mustache.hpp', '/usr/include/nlohmann/json.hpp'].every((p) => fs.existsSync(p));
  if (!have) return { bin: null, why: 'kainjow or nlohmann-json headers not installed' };
  try {
    execFileSync('g++', ['-std=c++17', '-O1', '-o', bin, src], { stdio: 'pipe' });
    return { bin, why: '' };
  } catch (e) {
    return { bin: null, why: `g++ failed: ${String(e.stderr || e.message).slice(0, 400)}` };
  }
}

// ---- Static HTML checks ------------------------------------------------------------------------

function staticChecks(html, lang) {
  const problems = [];
  if (!html.startsWith('<!DOCTYPE html>')) problems.push('does not start with <!DOCTYPE html>');
  if (!html.includes(`<html lang="${lang}">`)) problems.push(`<html lang="${lang}"> missing`);
  if (/<script/i.test(html)) problems.push('HTML contains "<script" (escaping failed?)');
  if (/\sstyle\s*=/i.test(html)) problems.push('HTML contains a style attribute');
  if (/\{\{|\}\}/.test(html)) problems.push('HTML contains unrendered mustache tags');
  if (/\{[a-z_]+\}/.test(html.replace(/<style[\s\S]*?<\/style>/g, ''))) problems.push('HTML contains an unfilled {placeholder}');
  return problems;
}

// ---- Server ------------------------------------------------------------------------------------

function csp(nonce) {
  return [
    "default-src 'none'",
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' https: data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

function startServer(routes) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const route = routes.get(url.pathname);
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('not found');
      return;
    }
    const headers = {
      'Content-Type': route.type,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    };
    if (route.nonce) headers['Content-Security-Policy'] = csp(route.nonce);
    res.writeHead(200, headers);
    res.end(fs.readFileSync(route.file));
  });
  return new Promise((resolveListen) => {
    server.listen(0, '127.0.0.1', () => resolveListen(server));
  });
}

// ---- Browser checks ----------------------------------------------------------------------------

async function checkPage(browser, base, item, vp, outDir) {
  const page = await browserLib.newPage(browser, vp);
  const problems = [];
  const notes = [];
  try {
    const resp = await page.goto(base + item.route, { waitUntil: 'load' });
    if (!resp || resp.status() !== 200) problems.push(`HTTP ${resp ? resp.status() : 'no response'}`);
    const csp = await browserLib.cspViolations(page);
    for (const v of csp) problems.push(`CSP violation: ${v}`);
    for (const e of page.consoleErrors) problems.push(`console error: ${e}`);

    const structure = await page.evaluate(() => {
      const q = (s) => document.querySelectorAll(s).length;
      const firstFocusable = document.querySelector('a[href], button, input:not([type=hidden]), select, textarea, summary');
      const styles = [...document.querySelectorAll('style')];
      return {
        h1: q('h1'),
        main: q('main'),
        header: q('body > header'),
        footer: q('body > footer'),
        skipFirst: !!firstFocusable && firstFocusable.classList.contains('skip-link') && firstFocusable.getAttribute('href') === '#main',
        scripts: q('script'),
        handlers: [...document.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => /^on/i.test(a.name))).length,
        autofocus: q('[autofocus]'),
        styleCount: styles.length,
        stylesNonced: styles.every((s) => s.nonce || s.getAttribute('nonce') !== null),
        cssLoaded: [...document.styleSheets].some((s) => s.href && s.href.includes('prefcenter.css')),
        unlabelled: [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
          .filter((el) => !(el.labels && el.labels.length)).map((el) => el.name || el.id),
        text: document.body.textContent,
      };
    });
    if (structure.h1 !== 1) problems.push(`${structure.h1} <h1> elements (want exactly 1)`);
    if (structure.main !== 1 || structure.header !== 1 || structure.footer !== 1) problems.push('landmarks header/main/footer missing');
    if (!structure.skipFirst) problems.push('the first focusable element is not the skip link to #main');
    if (structure.scripts || structure.handlers || structure.autofocus) problems.push('page has scripts, event handlers or autofocus (escaping failed?)');
    if (structure.styleCount !== 1 || !structure.stylesNonced) problems.push(`${structure.styleCount} <style> elements (want the one nonce'd brand block)`);
    if (!structure.cssLoaded) problems.push('stylesheet did not load');
    if (structure.unlabelled.length) problems.push(`inputs without a <label>: ${structure.unlabelled.join(', ')}`);
    for (const s of item.mustShowLiterally) {
      if (!structure.text.includes(s)) problems.push(`text "${s}" is not shown literally (escaping?)`);
    }

    if (await browserLib.hasHorizontalScroll(page)) problems.push(`horizontal scroll at ${vp.width}px`);

    const axe = await browserLib.runAxe(page);
    for (const v of axe.violations) {
      problems.push(`axe ${v.id} (${v.impact}): ${v.help} -> ${v.nodes.slice(0, 3).map((n) => n.target).join(' | ')}`);
    }
    const bp = await browserLib.runAxe(page, { tags: ['best-practice'] });
    for (const v of bp.violations) {
      problems.push(`axe best-practice ${v.id}: ${v.help} -> ${v.nodes.slice(0, 3).map((n) => n.target).join(' | ')}`);
    }
    if (axe.incomplete.length) notes.push(`axe needs review: ${axe.incomplete.map((r) => `${r.id}x${r.nodes.length}`).join(', ')}`);

    if (item.keyboard) {
      const { order, expected } = await browserLib.keyboardWalk(page);
      if (order.length !== expected.length) {
        problems.push(`keyboard reached ${order.length} of ${expected.length} focusable elements`);
      }
      if (!order[0] || !order[0].classes.includes('skip-link')) {
        problems.push('the first Tab does not reach the skip link');
      }
      const noRing = order.filter((o) => !o.visibleFocus);
      if (noRing.length) problems.push(`no visible focus indicator on: ${noRing.map((o) => o.name || o.tag).join(', ')}`);
      notes.push(`keyboard: ${order.length} tab stops`);
      if (outDir && vp.name === 'desktop') {
        fs.writeFileSync(path.join(outDir, `${item.id}.focus-order.txt`),
          order.map((o, i) => `${String(i + 1).padStart(3)}  ${o.tag}${o.type ? `[${o.type}]` : ''}  ${o.name}  ${o.text}`).join('\n') + '\n');
      }
      await page.evaluate(() => window.scrollTo(0, 0));
    }

    await page.evaluate(() => {
      if (document.activeElement) document.activeElement.blur();
    });
    await browserLib.screenshot(page, path.join(outDir, `${item.id}.${vp.width}.png`));
  } catch (e) {
    problems.push(`error: ${e.message}`);
  } finally {
    await page.close();
  }
  return { problems, notes };
}

/** Proves that the detectors work: a page that breaks every rule must be caught. */
async function canary(browser, base) {
  const page = await browserLib.newPage(browser, VIEWPORTS[1]);
  const problems = [];
  try {
    await page.goto(base + '/__canary', { waitUntil: 'load' });
    const csp = await browserLib.cspViolations(page);
    const scroll = await browserLib.hasHorizontalScroll(page);
    const axe = await browserLib.runAxe(page);
    if (csp.length === 0) problems.push('an inline style attribute was not reported as a CSP violation');
    if (!scroll) problems.push('a 600px wide image was not reported as horizontal scroll');
    if (!axe.violations.some((v) => v.id === 'image-alt')) problems.push('an <img> without alt was not reported by axe');
  } finally {
    await page.close();
  }
  record('harness canary: CSP, overflow and axe detectors catch a broken page', problems);
}

// ---- Main --------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.out, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'prefcenter-preview-'));

  const locales = loadLocales();
  const langs = opts.langs || Object.keys(locales);
  const { templates, usedKeys } = loadTemplates(locales.en || {});
  const samples = loadSamples(templates, locales, usedKeys).filter(
    (s) => !opts.only || opts.only.includes(s.name) || opts.only.includes(s.page));
  const unused = Object.keys(locales.en || {}).filter((k) => !usedKeys.has(k));

  // Render every sample in every language; cross-check with kainjow when it can be built.
  const kainjow = buildKainjow(work);
  const routes = new Map();
  const items = [];
  const crossProblems = [];
  let crossChecked = 0;
  const renderProblems = [];
  for (const sample of samples) {
    for (const lang of langs) {
      const id = `${sample.name}.${lang}`;
      let rendered;
      try {
        rendered = render(templates, sample, lang, locales);
      } catch (e) {
        renderProblems.push(`${id}: ${e.message}`);
        continue;
      }
      const htmlFile = path.join(work, `${id}.html`);
      fs.writeFileSync(htmlFile, rendered.html);
      const viewFile = path.join(work, `${id}.view.json`);
      fs.writeFileSync(viewFile, JSON.stringify(rendered.view, null, 2));
      for (const p of staticChecks(rendered.html, lang)) renderProblems.push(`${id}: ${p}`);
      if (kainjow.bin) {
        try {
          const out = execFileSync(kainjow.bin, [TEMPLATES, sample.page, viewFile], { encoding: 'utf8', maxBuffer: 1 << 26 });
          crossChecked++;
          // kainjow keeps the line break of some standalone tag lines that the mustache spec
          // (and mustache.js) drops; blank lines mean nothing in this HTML, so ignore them.
          const a = dropBlankLines(out);
          const b = dropBlankLines(rendered.html);
          if (a !== b) {
            let i = 0;
            while (i < a.length && a[i] === b[i]) i++;
            crossProblems.push(`${id}: kainjow and mustache.js differ at byte ${i}: kainjow ${JSON.stringify(a.slice(i, i + 60))} vs js ${JSON.stringify(b.slice(i, i + 60))}`);
          }
        } catch (e) {
          crossProblems.push(`${id}: kainjow_render failed: ${String(e.stderr || e.message).slice(0, 300)}`);
        }
      }
      // Every text in the view model that contains markup must end up in the page as plain text.
      const mustShowLiterally = [];
      const scan = (v, key) => {
        if (ATTRIBUTE_FIELDS.has(key)) return;
        if (typeof v === 'string' && /<[a-z/]/i.test(v)) mustShowLiterally.push(v);
        else if (Array.isArray(v)) v.forEach((x) => scan(x, ''));
        else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) scan(x, k);
      };
      scan(rendered.view, '');
      const route = `/${sample.name}/${lang}`;
      routes.set(route, { file: htmlFile, type: 'text/html; charset=utf-8', nonce: sample.data.csp_nonce });
      items.push({
        id,
        route,
        sample,
        lang,
        keyboard: sample.page === 'preferences' && lang === langs[0],
        mustShowLiterally,
      });
      const cssPath = new URL(sample.data.css_url, 'http://x').pathname;
      if (!routes.has(cssPath)) {
        const cssFile = path.join(work, 'prefcenter.css');
        fs.copyFileSync(CSS_FILE, cssFile);
        routes.set(cssPath, { file: cssFile, type: 'text/css; charset=utf-8' });
      }
    }
  }
  record(`render: ${items.length} pages (${samples.length} samples x ${langs.join('/')}) without errors`, renderProblems);
  if (kainjow.bin) record(`kainjow (C++ engine) renders the same bytes as mustache.js`, crossProblems, [`${crossChecked} pages compared`]);
  else console.log(`skip kainjow cross-check: ${kainjow.why}`);
  if (unused.length) console.log(`note: locale keys used only by the C++ (not by templates or samples): ${unused.join(', ')}`);

  const canaryFile = path.join(work, 'canary.html');
  fs.writeFileSync(canaryFile, '<!DOCTYPE html><html lang="en"><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>canary</title></head><body><main>' +
    '<p style="color:red">inline style</p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="600" height="20">' +
    '</main></body></html>');
  routes.set('/__canary', { file: canaryFile, type: 'text/html; charset=utf-8', nonce: 'Y2FuYXJ5Y2FuYXJ5Y2FuYXJ5' });

  const server = await startServer(routes);
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await browserLib.launch();
  try {
    console.log(`serving ${items.length} pages at ${base} (CSP on), Chromium ${await browser.version()}`);
    await canary(browser, base);
    for (const item of items) {
      for (const vp of VIEWPORTS) {
        const { problems, notes } = await checkPage(browser, base, item, vp, opts.out);
        record(`${item.id} @${vp.width}`, problems, notes);
      }
    }
  } finally {
    await browser.close();
    server.close();
    if (!opts.keep) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`rendered HTML and view models kept in ${work}`);
  }

  const failed = results.filter((r) => !r.ok);
  console.log('');
  console.log(`screenshots: ${opts.out}`);
  if (failed.length) {
    console.log('failed:');
    for (const r of failed) console.log(`  ${r.name}: ${r.problems.length} problem(s)`);
  }
  console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
  process.exitCode = failed.length ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
