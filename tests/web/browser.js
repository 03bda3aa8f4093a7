// Drives the playground in headless Chromium (Playwright, playwright-core) for tests/test_web_browser.py.
// Reads {url, artefacts, actions: [...]} on stdin, does the actions as a person would (mouse, keys),
// prints JSON: {pixels: {name: {width, height, rgba(base64)}}, values: {...}, errors: [...]}.
// Actions: {wait: N} (until the page has run N steps), {pause: true}, {play: true},
// {tool: "erase"|"adversary"|...}, {drag: [[row, col], ...]} (cells), {slider: NAME, presses: N}
// (arrow keys on a perturbation's k slider), {click: CSS}, {pixels: NAME}, {screenshot: NAME},
// {select: [CSS, VALUE]}, {press: [CSS, KEY, N]} (focus a control, press a key N times),
// {bench: STEPS} (time backend steps in a loop), {value: NAME, js: EXPRESSION}.
"use strict";
const path = require("path");
const fs = require("fs");
const { chromium } = require("playwright-core");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

async function run(job) {
  const profile = fs.mkdtempSync(path.join(require("os").tmpdir(), "nca-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, args: FLAGS, headless: true, viewport: { width: 1200, height: 900 },
  });
  const result = { pixels: {}, values: {}, errors: [] };
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (e) => result.errors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => { if (m.type() === "error") result.errors.push(`console: ${m.text()}`); });
    await page.goto(job.url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 30000 });
    const canvas = page.locator("#grid");
    for (const a of job.actions) {
      if (a.wait !== undefined) {
        const target = await page.evaluate((n) => window.playground.steps + n, a.wait);
        await page.waitForFunction((n) => window.playground.steps >= n, target, { timeout: a.timeout || 120000, polling: 100 });
      } else if (a.pause || a.play) {
        const playing = await page.evaluate(() => window.playground.playing);
        if (playing !== Boolean(a.play)) await page.click("#play");
      } else if (a.tool) {
        await page.click(`#tools [data-tool=${a.tool}]`);
      } else if (a.drag) {
        const box = await canvas.boundingBox();
        const size = await page.evaluate(() => [window.playground.H, window.playground.W]);
        const at = ([r, c]) => [box.x + ((c + 0.5) / size[1]) * box.width, box.y + ((r + 0.5) / size[0]) * box.height];
        await page.mouse.move(...at(a.drag[0]));
        await page.mouse.down();
        for (const cell of a.drag.slice(1)) await page.mouse.move(...at(cell), { steps: 8 });
        await page.mouse.up();
      } else if (a.slider) {
        await page.focus(`input[data-perturbation="${a.slider}"]`);
        const key = a.presses > 0 ? "ArrowRight" : "ArrowLeft";
        for (let n = 0; n < Math.abs(a.presses); n++) await page.keyboard.press(key);
      } else if (a.press) {
        const [css, key, n] = a.press;
        await page.focus(css);
        for (let k = 0; k < n; k++) await page.keyboard.press(key);
      } else if (a.click) {
        await page.click(a.click);
      } else if (a.select) {
        await page.selectOption(...a.select);
      } else if (a.pixels) {
        result.pixels[a.pixels] = await page.evaluate(() => {
          const c = document.getElementById("grid");
          const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
          let bin = "";
          for (let i = 0; i < data.length; i++) bin += String.fromCharCode(data[i]);
          return { width: c.width, height: c.height, rgba: btoa(bin) };
        });
      } else if (a.screenshot) {
        await page.screenshot({ path: path.join(job.artefacts, `${a.screenshot}.png`), fullPage: true });
      } else if (a.bench) {
        result.values[`bench_${a.name || "steps"}`] = await page.evaluate((n) => {
          const app = window.playground;
          const opts = { rand: app.rand, perturbation: app.composed };
          app.backend.step(opts); app.backend.read(); // warm up (shader compilation)
          const start = performance.now();
          for (let i = 0; i < n; i++) app.backend.step(opts);
          app.backend.read(); // wait for the GPU to finish
          return { steps_per_second: (1000 * n) / (performance.now() - start), backend: app.backend.kind };
        }, a.bench);
      } else if (a.value) {
        result.values[a.value] = await page.evaluate(a.js);
      } else {
        throw new Error(`unknown action ${JSON.stringify(a)}`);
      }
    }
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  return result;
}

const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  run(JSON.parse(Buffer.concat(chunks).toString())).then(
    (r) => process.stdout.write(JSON.stringify(r)),
    (e) => { console.error(e.stack || String(e)); process.exit(1); },
  );
});
