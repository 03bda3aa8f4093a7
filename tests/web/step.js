// One playground step under Node, for tests/test_web.py: reads a case (JSON) on stdin, prints the state.
// The case: model (spec), adversary (spec or null), mask, perturbations (specs) with ks, H, W,
// state (base64 float32, H*W*C channels last), fire (base64 float32 0/1 per cell), noise (or null).
"use strict";
const path = require("path");
const engine = require(path.join(process.argv[2], "engine.js"));

const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const c = JSON.parse(Buffer.concat(chunks).toString());
  const m = engine.compile(c.model);
  const toBytes = (b64) => (b64 ? Uint8Array.from(engine.decode(b64), (v) => (v > 0.5 ? 1 : 0)) : null);
  const out = engine.step(m, engine.decode(c.state), c.H, c.W, {
    fire: toBytes(c.fire),
    noise: c.noise ? engine.decode(c.noise) : null,
    perturbation: engine.compose((c.perturbations || []).map(engine.compilePerturbation), c.ks || []),
    adversary: c.adversary ? engine.compile(c.adversary) : null,
    mask: toBytes(c.mask),
  });
  process.stdout.write(Buffer.from(out.buffer).toString("base64"));
});
