/* ncaforge playground engine: one NCA step on the CPU, the same semantics as ncaforge's NCA.step.
 *
 * A state is a Float32Array of H*W*C values, channels last (cell p = i*W + j holds
 * x[p*C .. p*C+C-1]). One step, as in Python:
 *   1. a perturbation, if any: alive mask first, then clip(x A) * alive (read-only channels kept);
 *   2. pre = alive(x): some cell of the 3x3 neighbourhood has alpha > threshold;
 *   3. every cell that fires (and is living, for classifiers) adds its rule's delta
 *      (the adversary's rule where the adversary mask is set; plus noise);
 *   4. x *= pre & alive(x), read-only inputs kept (masking "pre_post"); the symmetric families (masking "pre") clear
 *      nothing, and steerable cells keep their angle (the last channel) in [0, 2 pi).
 * Logic rules (DiffLogic CA) perceive through gate circuits over the neighbourhood and update through
 * another: a cell that fires takes the circuit's state (its delta is that state minus its own).
 * Fixed-bank features are interleaved per channel ([c0_f0, c0_f1, ..., c1_f0, ...]), the checkpoint
 * format's order; symmetric ones are grouped per kind ([all x | all lap | ...], as SymmetricPerception).
 * A model starts from its family's seed (spec.seed, sparse; spec.turned_seeds for seeds turned and
 * mirrored) and is drawn by its family's view (spec.view: rgba, rgb, field or classes), as
 * render/views.py draws it.
 * Runs in browsers (window.NCAEngine) and under Node (require).
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.NCAEngine = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** base64 of little-endian float32 (as export.py writes it) -> Float32Array. */
  function decode(b64) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }

  /** A hard gate circuit (GateNetwork.web_spec: each gate's function and two inputs, layer by layer) as
   * typed arrays, with its own buffers: callers write its inputs into bufA, then runGates. */
  function compileGates(spec) {
    const layers = spec.layers.map((gates) => ({
      n: gates.length, a: Int32Array.from(gates, (g) => g.a), b: Int32Array.from(gates, (g) => g.b),
      k: Float64Array.from(gates.flatMap((g) => spec.functions[g.op])), // k0 + k1 a + k2 b + k3 ab
    }));
    const widest = Math.max(spec.inputs, ...layers.map((l) => l.n));
    return { inputs: spec.inputs, outputs: layers[layers.length - 1].n, clip: spec.clip, layers,
      bufA: new Float64Array(widest), bufB: new Float64Array(widest) };
  }

  /** The circuit g on the inputs in g.bufA (read clipped to [0, 1] when g.clip); returns its outputs. */
  function runGates(g) {
    let x = g.bufA, y = g.bufB;
    if (g.clip) for (let q = 0; q < g.inputs; q++) x[q] = x[q] < 0 ? 0 : x[q] > 1 ? 1 : x[q];
    for (const L of g.layers) {
      const A = L.a, B = L.b, k = L.k;
      for (let o = 0; o < L.n; o++) {
        const a = x[A[o]], b = x[B[o]];
        y[o] = k[4 * o] + k[4 * o + 1] * a + k[4 * o + 2] * b + k[4 * o + 3] * a * b;
      }
      const t = x; x = y; y = t;
    }
    return x;
  }

  /** A model spec (models.js) -> the typed arrays and constants that step() reads. */
  function compile(spec) {
    const C = spec.channels;
    const p = spec.perception;
    const perception = p.kind === "fixed"
      ? { kind: "fixed", filters: p.filters, bank: decode(p.bank), features: C * p.filters }
      : p.kind === "symmetric"
        ? { kind: "symmetric", mode: p.mode, frame: p.frame, P: p.perceived, features: p.features,
          bank: decode(p.bank) }
        : p.kind === "logic"
          ? { kind: "logic", features: p.features, source: Int32Array.from(p.source),
            circuits: compileGates(p.circuits) }
          : { kind: "learned", features: p.features, weight: decode(p.weight), bias: decode(p.bias) };
    const gates = spec.update && spec.update.kind === "gates" ? compileGates(spec.update.circuit) : null;
    const layers = gates ? [] : spec.layers.map((l) => ({
      inp: l.in, out: l.out, weight: decode(l.weight), bias: l.bias ? decode(l.bias) : null,
    }));
    const mutable = Int32Array.from(spec.mutable);
    const takes = gates ? gates.inputs : layers[0].inp;
    const writes = gates ? gates.outputs : layers[layers.length - 1].out;
    if (takes !== perception.features) {
      throw new Error(`model ${spec.name}: the update takes ${takes} features, perception gives ${perception.features}`);
    }
    if (writes !== mutable.length) {
      throw new Error(`model ${spec.name}: the update writes ${writes} channels, the layout has ${mutable.length} mutable ones`);
    }
    if (!spec.view) throw new Error(`model ${spec.name}: the spec has no view (export it again)`);
    const widest = Math.max(perception.features, ...layers.map((l) => l.out));
    const masking = spec.masking || "pre_post";
    if (masking !== "pre_post" && masking !== "pre") throw new Error(`model ${spec.name}: unknown masking ${masking}`);
    const sparseSeed = (s) => ({ background: decode(s.background), cells: decode(s.cells), values: decode(s.values) });
    return {
      spec, name: spec.name, family: spec.family, C, mutable, readonly: spec.readonly,
      input: Uint8Array.from({ length: C }, (_, c) => (spec.readonly.includes(c) ? 1 : 0)),
      alpha: spec.alpha, living: spec.living, view: spec.view, paint: painter(spec.view, C),
      seed: spec.seed ? sparseSeed(spec.seed) : null, masking,
      turnedSeeds: (spec.turned_seeds || []).map((s) => ({ angle: s.angle, mirror: s.mirror, ...sparseSeed(s) })),
      angle: perception.mode === "steerable" ? C - 1 : null, // the channel of a steerable cell's angle
      grid: spec.grid || null, threshold: spec.alive_threshold, fireRate: spec.fire_rate, noise: spec.noise,
      circular: spec.padding === "circular", perception, layers, gates,
      // scratch buffers, reused by every cell
      nb: new Float64Array(9 * C), bufA: new Float64Array(widest), bufB: new Float64Array(widest),
    };
  }

  /** (H*W) 0/1: some in-grid (or wrapped) neighbour of each cell has channel ch > threshold. */
  function neighbourhoodAbove(x, H, W, C, ch, threshold, circular) {
    const out = new Uint8Array(H * W);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        let alive = 0;
        for (let di = -1; di <= 1 && !alive; di++) {
          let ii = i + di;
          if (ii < 0 || ii >= H) { if (!circular) continue; ii = (ii + H) % H; }
          for (let dj = -1; dj <= 1; dj++) {
            let jj = j + dj;
            if (jj < 0 || jj >= W) { if (!circular) continue; jj = (jj + W) % W; }
            if (x[(ii * W + jj) * C + ch] > threshold) { alive = 1; break; }
          }
        }
        out[i * W + j] = alive;
      }
    }
    return out;
  }

  /** The alive mask of Growing NCA, or null for models without an alpha channel. */
  function aliveMask(m, x, H, W) {
    if (m.alpha === null || m.alpha === undefined) return null;
    return neighbourhoodAbove(x, H, W, m.C, m.alpha, m.threshold, m.circular);
  }

  /** Cells allowed to update (classifiers: the digit's pixels), or null when all are. */
  function livingMask(m, x, H, W) {
    if (m.living === null || m.living === undefined) return null;
    const out = new Uint8Array(H * W);
    for (let p = 0; p < H * W; p++) out[p] = x[p * m.C + m.living] > m.threshold ? 1 : 0;
    return out;
  }

  /** Gather cell (i, j)'s 3x3 neighbourhood into m.nb, neighbour-major (raster order), then channel. */
  function gather(m, x, H, W, i, j) {
    const C = m.C, nb = m.nb;
    for (let k = 0; k < 9; k++) {
      let ii = i + ((k / 3) | 0) - 1, jj = j + (k % 3) - 1;
      let inside = ii >= 0 && ii < H && jj >= 0 && jj < W;
      if (!inside && m.circular) { ii = (ii + H) % H; jj = (jj + W) % W; inside = true; }
      const base = (ii * W + jj) * C;
      for (let c = 0; c < C; c++) nb[k * C + c] = inside ? x[base + c] : 0;
    }
  }

  /** Filter f of the symmetric bank (identity, laplacian, sobel x, sobel y) on channel c of nb. */
  function filtered(bank, nb, C, f, c) {
    let s = 0;
    for (let k = 0; k < 9; k++) s += bank[f * 9 + k] * nb[k * C + c];
    return s;
  }

  /** SymmetricPerception's features of the gathered neighbourhood nb into h, grouped per kind. */
  function symmetricFeatures(per, nb, C, h) {
    const P = per.P, bank = per.bank, mode = per.mode;
    let cos = 1, sin = 0;
    if (mode === "steerable") { const a = nb[4 * C + C - 1]; cos = Math.cos(a); sin = Math.sin(a); }
    if (mode === "gradient") {
      const fx = filtered(bank, nb, C, 2, per.frame), fy = filtered(bank, nb, C, 3, per.frame);
      const norm = Math.sqrt(fx * fx + fy * fy + 1e-12);
      cos = fx / norm; sin = fy / norm;
    }
    for (let c = 0; c < P; c++) {
      h[c] = nb[4 * C + c];
      h[P + c] = filtered(bank, nb, C, 1, c);
      if (mode === "laplacian") continue;
      const gx = filtered(bank, nb, C, 2, c), gy = filtered(bank, nb, C, 3, c);
      if (mode === "lap_gradnorm") { h[2 * P + c] = Math.sqrt(gx * gx + gy * gy + 1e-12); continue; }
      h[2 * P + c] = gx * cos + gy * sin;
      h[3 * P + c] = gy * cos - gx * sin;
    }
  }

  /** The rule's delta of the mutable channels of cell (i, j): perception, then the MLP. */
  function delta(m, x, H, W, i, j) {
    gather(m, x, H, W, i, j);
    const C = m.C, nb = m.nb, per = m.perception;
    let h = m.bufA, next = m.bufB;
    if (per.kind === "fixed") {
      const F = per.filters, bank = per.bank;
      for (let c = 0; c < C; c++) {
        for (let f = 0; f < F; f++) {
          let s = 0;
          for (let k = 0; k < 9; k++) s += bank[f * 9 + k] * nb[k * C + c];
          h[c * F + f] = s;
        }
      }
    } else if (per.kind === "symmetric") {
      symmetricFeatures(per, nb, C, h);
    } else if (per.kind === "logic") { // the cell's states, then its kernel circuits' outputs
      const g = per.circuits, src = per.source;
      for (let q = 0; q < g.inputs; q++) g.bufA[q] = nb[src[q]];
      const bits = runGates(g);
      for (let c = 0; c < C; c++) h[c] = nb[4 * C + c];
      for (let q = 0; q < g.outputs; q++) h[C + q] = bits[q];
    } else {
      const w = per.weight, b = per.bias;
      for (let f = 0; f < per.features; f++) {
        let s = b[f];
        const row = f * C * 9;
        for (let c = 0; c < C; c++) {
          for (let k = 0; k < 9; k++) s += w[row + c * 9 + k] * nb[k * C + c];
        }
        h[f] = s > 0 ? s : 0;
      }
    }
    if (m.gates) { // a logic rule: the cell takes its circuit's state (the delta from its own)
      const g = m.gates;
      for (let q = 0; q < g.inputs; q++) g.bufA[q] = h[q];
      const state = runGates(g);
      for (let c = 0; c < g.outputs; c++) next[c] = state[c] - h[c];
      return next;
    }
    const last = m.layers.length - 1;
    for (let l = 0; l <= last; l++) {
      const L = m.layers[l], w = L.weight, b = L.bias;
      for (let o = 0; o < L.out; o++) {
        let s = b ? b[o] : 0;
        const row = o * L.inp;
        for (let q = 0; q < L.inp; q++) s += w[row + q] * h[q];
        next[o] = l < last && s < 0 ? 0 : s;
      }
      const t = h; h = next; next = t;
    }
    return h; // the first mutable.length entries
  }

  /** I + sum k_i D_i of compiled perturbations, or null when every k is 0 (no perturbation). */
  function compose(perturbations, ks) {
    if (!perturbations.length || ks.every((k) => k === 0)) return null;
    const C = perturbations[0].channels;
    const A = new Float32Array(C * C);
    for (let c = 0; c < C; c++) A[c * C + c] = 1;
    perturbations.forEach((p, n) => {
      for (let q = 0; q < C * C; q++) A[q] += ks[n] * p.direction[q];
    });
    return { matrix: A, clip: perturbations[0].clip, channels: C };
  }

  function compilePerturbation(spec) {
    return { name: spec.name, channels: spec.channels, clip: spec.clip, direction: decode(spec.direction) };
  }

  /** clip(x A) * alive, the alive (or living) mask taken first; read-only channels keep their values. */
  function perturb(m, x, H, W, P) {
    const C = m.C;
    if (P.channels !== C) throw new Error(`a perturbation of ${P.channels} channels on a ${C}-channel model`);
    const alive = m.alpha !== null && m.alpha !== undefined ? aliveMask(m, x, H, W) : livingMask(m, x, H, W);
    const y = new Float32Array(x.length), A = P.matrix, clip = P.clip;
    for (let p = 0; p < H * W; p++) {
      const base = p * C;
      if (!alive || alive[p]) {
        for (let jc = 0; jc < C; jc++) {
          let s = 0;
          for (let ic = 0; ic < C; ic++) s += x[base + ic] * A[ic * C + jc];
          y[base + jc] = s > clip ? clip : s < -clip ? -clip : s;
        }
      }
      for (const r of m.readonly) y[base + r] = x[base + r];
    }
    return y;
  }

  /** A uniform [0, 1) source; seeded (mulberry32) when given a seed, else Math.random. */
  function random(seed) {
    if (seed === undefined || seed === null) return Math.random;
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** Each cell fires with probability fire_rate (rand <= rate, as in Python). */
  function drawFire(m, N, rand) {
    const fire = new Uint8Array(N);
    if (m.fireRate >= 1) return fire.fill(1);
    for (let p = 0; p < N; p++) fire[p] = rand() <= m.fireRate ? 1 : 0;
    return fire;
  }

  /** N(0, noise^2) per cell and mutable channel (Box-Muller), or null for noiseless models. */
  function drawNoise(m, N, rand) {
    if (!m.noise) return null;
    const M = m.mutable.length, out = new Float32Array(N * M);
    for (let q = 0; q < out.length; q++) {
      const u = 1 - rand(), v = rand();
      out[q] = m.noise * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
    return out;
  }

  /**
   * One step of model m on state x (H, W); returns the new state.
   * opts: fire (Uint8Array H*W), noise (Float32Array H*W*M or null), rand (for draws),
   * perturbation (from compose), adversary (compiled model, same layout) with mask (Uint8Array H*W).
   */
  function step(m, x, H, W, opts) {
    opts = opts || {};
    const C = m.C, N = H * W, rand = opts.rand || Math.random;
    if (x.length !== N * C) throw new Error(`state has ${x.length} values, expected ${H}x${W}x${C}`);
    const cur = opts.perturbation ? perturb(m, x, H, W, opts.perturbation) : x;
    const pre = aliveMask(m, cur, H, W);
    const living = livingMask(m, cur, H, W);
    const fire = opts.fire || drawFire(m, N, rand);
    const noise = opts.noise !== undefined ? opts.noise : drawNoise(m, N, rand);
    const adversary = opts.adversary && opts.mask ? opts.adversary : null;
    const mask = adversary ? opts.mask : null;
    const out = new Float32Array(cur);
    const M = m.mutable.length, mutable = m.mutable;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const p = i * W + j;
        // cells that do not fire keep their state; cells dead before the step are cleared below
        if (!fire[p] || (living && !living[p]) || (pre && !pre[p])) continue;
        const d = delta(mask && mask[p] ? adversary : m, cur, H, W, i, j);
        const base = p * C;
        for (let q = 0; q < M; q++) out[base + mutable[q]] += d[q] + (noise ? noise[p * M + q] : 0);
      }
    }
    if (m.angle !== null) {
      const turn = 2 * Math.PI;
      for (let p = 0; p < N; p++) {
        const q = p * C + m.angle;
        out[q] = ((out[q] % turn) + turn) % turn;
      }
    }
    if (pre && m.masking === "pre_post") {
      const post = aliveMask(m, out, H, W);
      for (let p = 0; p < N; p++) {
        if (pre[p] && post[p]) continue;
        const base = p * C;
        for (let c = 0; c < C; c++) if (!m.input[c]) out[base + c] = 0; // inputs stay, as keep_inputs
      }
    }
    return out;
  }

  /**
   * The family's seed state (spec.seed: a background cell, and the cells that differ from it), or an
   * empty grid; turned `angle` degrees counterclockwise after a left-right mirror with `mirror`, for
   * families whose seeds turn (spec.turned_seeds: every 15 degrees).
   */
  function seed(m, H, W, angle, mirror) {
    const x = new Float32Array(H * W * m.C);
    let s = m.seed;
    if (angle || mirror) {
      s = m.turnedSeeds.find((t) => t.angle === (angle || 0) && t.mirror === !!mirror);
      if (!s) throw new Error(`model ${m.name}: no seed turned ${angle} degrees${mirror ? ", mirrored" : ""}`);
    }
    if (!s) return x;
    if (m.grid && (m.grid[0] !== H || m.grid[1] !== W)) {
      throw new Error(`model ${m.name}: its seed was exported for ${m.grid[0]}x${m.grid[1]}, not ${H}x${W}`);
    }
    const { background, cells, values } = s;
    for (let p = 0; p < H * W; p++) x.set(background, p * m.C);
    for (let n = 0; n < cells.length; n++) x.set(values.subarray(n * m.C, (n + 1) * m.C), cells[n] * m.C);
    return x;
  }

  /** Hex digits -> bytes. */
  function hexBytes(hex) {
    return Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
  }

  const ADVERSARY_RGB = [214, 0, 214]; // magenta: apart from every colour a perturbation gives the lizard
  // The legend of the self-classifying MNIST article, classes 0..9 (as core/view.py's CLASS_COLOURS).
  const CLASS_RGB = [[128, 0, 0], [230, 25, 75], [70, 240, 240], [210, 245, 60], [250, 190, 190],
    [170, 110, 40], [170, 255, 195], [165, 163, 159], [0, 128, 128], [128, 128, 0]];
  // matplotlib's viridis, 256 RGB byte triples (the colour map of render/views.py's field view)
  const VIRIDIS = hexBytes(
    "44015444025645045745055946075a46085c460a5d460b5e470d60470e61471063471164471365481467481668481769" +
    "48186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979472a7a472c7a" +
    "472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84433d84433e85423f85" +
    "4240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a3d4e8a3c4f8a3c508b3b518b" +
    "3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d355e8d355f8d34608d34618d33628d" +
    "33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e" +
    "2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e297b8e287c8e287d8e277e8e277f8e27808e26818e" +
    "26828e26828e25838e25848e25858e24868e24878e23888e23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d" +
    "21918c20928c20928c20938c1f948c1f958b1f968b1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f88" +
    "1fa0881fa1881fa1871fa28720a38620a48621a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad81" +
    "28ae8029af7f2ab07f2cb17e2db27d2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc74" +
    "3fbc7340bd7242be7144bf7046c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc863" +
    "5ec96260ca6063cb5f65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d" +
    "84d44b86d54989d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32" +
    "addc30b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21a" +
    "d8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723fde725");

  const clamp01 = (v) => (v < 0 ? 0 : v > 1 ? 1 : v);
  const f32 = Math.fround;

  /** The class cell p votes for: the arg-max of the last `classes` channels (the first on ties). */
  function votes(classes, C, x, p) {
    const base = p * C + C - classes;
    let best = 0;
    for (let k = 1; k < classes; k++) if (x[base + k] > x[base + best]) best = k;
    return best;
  }

  /**
   * A view (spec.view, from core/view.py) as a painter: (x, p, out, o) writes cell p's RGB bytes at
   * out[o..o+2] (a Uint8ClampedArray, which clamps and rounds) and returns whether the cell shows
   * (opaque, or living; every cell for rgb and field). The same pictures as render/views.py's draw.
   */
  function painter(view, C) {
    if (view.kind === "rgba") {
      const [r, g, b] = view.rgb, a = view.alpha;
      return (x, p, out, o) => {
        const base = p * C, white = 1 - clamp01(x[base + a]);
        out[o] = 255 * (white + x[base + r]); out[o + 1] = 255 * (white + x[base + g]);
        out[o + 2] = 255 * (white + x[base + b]);
        return x[base + a] > 0.1;
      };
    }
    if (view.kind === "rgb") {
      const span = view.high - view.low;
      return (x, p, out, o) => {
        for (let q = 0; q < 3; q++) out[o + q] = (255 * (x[p * C + view.channels[q]] - view.low)) / span;
        return true;
      };
    }
    if (view.kind === "field") {
      const low = f32(view.low), span = f32(view.high - view.low); // float32, as torch computes it
      return (x, p, out, o) => {
        const v = clamp01(f32(f32(x[p * C + view.channel] - low) / span));
        const k = 3 * Math.round(f32(v * 255));
        out[o] = VIRIDIS[k]; out[o + 1] = VIRIDIS[k + 1]; out[o + 2] = VIRIDIS[k + 2];
        return true;
      };
    }
    if (view.kind === "classes") {
      return (x, p, out, o) => {
        const value = x[p * C + view.living], grey = value > view.threshold ? clamp01(value) : 0;
        const colour = CLASS_RGB[votes(view.classes, C, x, p) % CLASS_RGB.length];
        for (let q = 0; q < 3; q++) out[o + q] = 255 * (1 - grey * (1 - colour[q] / 255));
        return grey > 0;
      };
    }
    throw new Error(`no picture for view kind ${JSON.stringify(view.kind)}`);
  }

  /**
   * The state as RGBA bytes (H*W*4) into `out`, as the model's view draws it; adversarial cells in
   * magenta where they show, a faint magenta tint where they wait in empty cells.
   */
  function render(m, x, H, W, mask, out) {
    for (let p = 0; p < H * W; p++) {
      const o = p * 4, shows = m.paint(x, p, out, o);
      out[o + 3] = 255;
      if (mask && mask[p]) {
        const t = shows ? 1 : 0.25;
        for (let q = 0; q < 3; q++) out[o + q] = (1 - t) * out[o + q] + t * ADVERSARY_RGB[q];
      }
    }
    return out;
  }

  /** How many cells vote for each class, among the living ones (a class view). */
  function tally(m, x, H, W) {
    const v = m.view, counts = new Array(v.classes).fill(0);
    for (let p = 0; p < H * W; p++) if (x[p * m.C + v.living] > v.threshold) counts[votes(v.classes, m.C, x, p)]++;
    return counts;
  }

  return {
    decode, compile, compilePerturbation, compose, perturb, step, seed, aliveMask, livingMask,
    drawFire, drawNoise, random, painter, render, tally, votes, CLASS_RGB, ADVERSARY_RGB,
  };
});
