// The page's pictures and seeds under Node, for tests/test_web.py: reads a list of jobs (JSON) on stdin,
// prints a JSON list with one base64 string per job:
//   {picture: {view, C, H, W, state}}: engine.js's render of the view on the state (base64 float32,
//     H*W*C channels last) -> H*W*4 RGBA bytes;
//   {seed: {model, H, W, angle, mirror}}: engine.js's seed state of the model spec (turned, mirrored)
//     -> H*W*C float32, channels last.
"use strict";
const path = require("path");
const engine = require(path.join(process.argv[2], "engine.js"));

function picture({ view, C, H, W, state }) {
  const out = new Uint8ClampedArray(H * W * 4);
  engine.render({ paint: engine.painter(view, C) }, engine.decode(state), H, W, null, out);
  return Buffer.from(out.buffer);
}

function seed({ model, H, W, angle, mirror }) {
  return Buffer.from(engine.seed(engine.compile(model), H, W, angle, mirror).buffer);
}

const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const jobs = JSON.parse(Buffer.concat(chunks).toString());
  const done = jobs.map((job) => (job.picture ? picture(job.picture) : seed(job.seed)).toString("base64"));
  process.stdout.write(JSON.stringify(done));
});
