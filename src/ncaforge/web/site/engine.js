/* ncaforge playground engine: one NCA step on the CPU, the same semantics as ncaforge's NCA.step.
 *
 * A state is a Float32Array of H*W*C values, channels last (cell p = i*W + j holds
 * x[p*C .. p*C+C-1]). One step, as in Python:
 *   1. a perturbation, if any: alive mask first, then clip(x A) * alive (read-only channels kept);
 *   2. pre = alive(x): some cell of the 3x3 neighbourhood has alpha > threshold;
 *   3. every cell that fires (and is living, for classifiers) adds its rule's delta
 *      (the adversary's rule where the adversary mask is set; plus noise);
 *   4. x *= pre & alive(x).
 * Perception features are interleaved per channel ([c0_f0, c0_f1, ..., c1_f0, ...]),
 * the checkpoint format's order. Runs in browsers (window.NCAEngine) and under Node (require).
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

  /** A model spec (models.js) -> the typed arrays and constants that step() reads. */
  function compile(spec) {
    const C = spec.channels;
    const p = spec.perception;
    const perception = p.kind === "fixed"
      ? { kind: "fixed", filters: p.filters, bank: decode(p.bank), features: C * p.filters }
      : { kind: "learned", features: p.features, weight: decode(p.weight), bias: decode(p.bias) };
    const layers = spec.layers.map((l) => ({
      inp: l.in, out: l.out, weight: decode(l.weight), bias: l.bias ? decode(l.bias) : null,
    }));
    if (layers[0].inp !== perception.features) {
      throw new Error(`model ${spec.name}: the MLP takes ${layers[0].inp} features, perception gives ${perception.features}`);
    }
    const mutable = Int32Array.from(spec.mutable);
    if (layers[layers.length - 1].out !== mutable.length) {
      throw new Error(`model ${spec.name}: the MLP writes ${layers[layers.length - 1].out} channels, the layout has ${mutable.length} mutable ones`);
    }
    const widest = Math.max(perception.features, ...layers.map((l) => l.out));
    return {
      spec, name: spec.name, family: spec.family, C, mutable, readonly: spec.readonly,
      alpha: spec.alpha, living: spec.living, rgb: spec.rgb, classes: spec.classes || 0,
      threshold: spec.alive_threshold, fireRate: spec.fire_rate, noise: spec.noise,
      circular: spec.padding === "circular", perception, layers,
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
    if (pre) {
      const post = aliveMask(m, out, H, W);
      for (let p = 0; p < N; p++) {
        if (!(pre[p] && post[p])) out.fill(0, p * C, p * C + C);
      }
    }
    return out;
  }

  /** The standard seed: one cell at (H/2, W/2) with alpha and hidden channels 1, RGB 0. */
  function seed(m, H, W) {
    const x = new Float32Array(H * W * m.C);
    const first = m.alpha !== null && m.alpha !== undefined ? m.alpha : 0;
    const base = (((H / 2) | 0) * W + ((W / 2) | 0)) * m.C;
    for (let c = first; c < m.C; c++) x[base + c] = 1;
    if (m.rgb) for (const c of m.rgb) x[base + c] = 0;
    return x;
  }

  const ADVERSARY_RGB = [214, 0, 214]; // magenta: apart from every colour a perturbation gives the lizard
  // The legend of the self-classifying MNIST article, classes 0..9 (as render/classes.py).
  const CLASS_RGB = [[128, 0, 0], [230, 25, 75], [70, 240, 240], [210, 245, 60], [250, 190, 190],
    [170, 110, 40], [170, 255, 195], [165, 163, 159], [0, 128, 128], [128, 128, 0]];

  /** The cell each class votes for (argmax of the last `classes` channels). */
  function votes(m, x, p) {
    const base = p * m.C + m.C - m.classes;
    let best = 0;
    for (let k = 1; k < m.classes; k++) if (x[base + k] > x[base + best]) best = k;
    return best;
  }

  /**
   * The state as RGBA bytes (H*W*4) into `out`: premultiplied RGBA over white (growing models),
   * or digit cells in the colour of their vote shaded by grey (classifiers); adversarial cells
   * in magenta where alive, a faint magenta tint where they wait in empty cells.
   */
  function render(m, x, H, W, mask, out) {
    const C = m.C;
    for (let p = 0; p < H * W; p++) {
      const base = p * C, o = p * 4;
      let r, g, b, occupied;
      if (m.rgb) {
        const a = Math.min(Math.max(x[base + m.alpha], 0), 1);
        r = 1 - a + x[base + m.rgb[0]]; g = 1 - a + x[base + m.rgb[1]]; b = 1 - a + x[base + m.rgb[2]];
        occupied = x[base + m.alpha] > m.threshold;
      } else {
        const grey = x[base + m.living] > m.threshold ? Math.min(Math.max(x[base + m.living], 0), 1) : 0;
        const colour = CLASS_RGB[votes(m, x, p) % CLASS_RGB.length];
        r = 1 - grey * (1 - colour[0] / 255); g = 1 - grey * (1 - colour[1] / 255); b = 1 - grey * (1 - colour[2] / 255);
        occupied = grey > 0;
      }
      out[o] = 255 * r; out[o + 1] = 255 * g; out[o + 2] = 255 * b; out[o + 3] = 255; // clamped by the array
      if (mask && mask[p]) {
        const t = occupied ? 1 : 0.25;
        for (let q = 0; q < 3; q++) out[o + q] = (1 - t) * out[o + q] + t * ADVERSARY_RGB[q];
      }
    }
    return out;
  }

  /** How many cells vote for each class, among the living ones (classifiers). */
  function tally(m, x, H, W) {
    const counts = new Array(m.classes).fill(0);
    for (let p = 0; p < H * W; p++) if (x[p * m.C + m.living] > m.threshold) counts[votes(m, x, p)]++;
    return counts;
  }

  return {
    decode, compile, compilePerturbation, compose, perturb, step, seed, aliveMask, livingMask,
    drawFire, drawNoise, random, render, tally, votes, CLASS_RGB, ADVERSARY_RGB,
  };
});
