'use strict';
// Screenshots of every page the real preference center serves, reached as a customer reaches
// it, at 1280x800 and 390x844 (full page), as <page>-<width>.png: preferences, saved,
// unsubscribe, unsubscribed, link-invalid (400), link-expired (410), resend-done, error-404.
// Also checks that no page scrolls sideways at 390 px.
//
// Written to $ASSENT_SCREENSHOT_DIR when set (docs/screenshots holds the curated current set:
// ASSENT_SCREENSHOT_DIR=$PWD/docs/screenshots), else to a temporary directory that is removed
// after a passing run.
//
//   node --test-reporter=spec screenshots.test.js     (tests/browser/CMakeLists.txt sets the paths)

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { screenshot, hasHorizontalScroll } = require('./lib/browser');
const { scenario } = require('./lib/pages');
const { tour, assertPage, PAGES } = require('./lib/tour');

const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
];

const given = process.env.ASSENT_SCREENSHOT_DIR;
const outDir = given ? path.resolve(given) : fs.mkdtempSync(path.join(os.tmpdir(), 'assent-screenshots-'));
fs.mkdirSync(outDir, { recursive: true });

scenario('screenshots of every real page', { stack: { name: 'shots' } }, async ({ stack, browser, step, failed }) => {
  for (const viewport of VIEWPORTS) {
    await step(`${viewport.width}x${viewport.height}`, async () => {
      const problems = [];
      const written = [];
      await tour(stack, browser, viewport, `shots-${viewport.width}`, async (visit) => {
        try {
          await assertPage(visit);
        } catch (err) {
          problems.push(err.message.split('\n')[0]);
        }
        if (viewport.width < 600 && (await hasHorizontalScroll(visit.page))) {
          problems.push(`${visit.name}: scrolls sideways at ${viewport.width} px`);
        }
        // No focus ring or hover state in the picture.
        await visit.page.evaluate(() => document.activeElement && document.activeElement.blur());
        await visit.page.mouse.move(0, 0);
        const file = path.join(outDir, `${visit.name}-${viewport.width}.png`);
        await screenshot(visit.page, file);
        written.push(path.basename(file));
      });
      assert.deepEqual(written, PAGES.map((p) => `${p}-${viewport.width}.png`));
      assert.deepEqual(problems, []);
    }, { independent: true });
  }
  if (given || failed()) console.log(`# screenshots in ${outDir}`);
  else fs.rmSync(outDir, { recursive: true, force: true });
});
