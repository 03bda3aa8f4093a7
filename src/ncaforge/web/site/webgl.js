/* ncaforge playground, WebGL2 backend: the step of engine.js as fragment shaders, one cell a fragment.
 *
 * The state is ceil(C/4) RGBA32F textures (texel (j, i) holds channels 4t..4t+3 of cell (i, j)).
 * A step is up to three passes, as engine.js orders it: the perturbation (alive mask first, then
 * clip(x A) * alive); the update (each cell that fires, lives and is alive before adds its rule's
 * delta, the adversary's where the mask is set, plus noise); the alive masking x *= pre & post (read-only inputs kept).
 * Fire masks and noise are drawn in JS (NCAEngine.drawFire / drawNoise) and uploaded, so both
 * backends take the same randomness. Weights live in an RGBA32F texture, each matrix row padded
 * to whole texels so that the MLP is dot products of vec4s. Shaders are generated per model.
 */
(function () {
  "use strict";
  const E = window.NCAEngine;
  const TEX_WIDTH = 1024; // texels per row of a weight texture

  /** Pack a rule's matrices into texels; returns {data, offsets} (offsets in texels). */
  function packWeights(m) {
    const C = m.C, nb = 9 * C, per = m.perception;
    const blocks = [];
    const matrix = (rows, cols, value) => blocks.push({ rows, cols, value });
    if (per.kind === "learned") {
      // feature f's weights in gather order (neighbour k, then channel c), to dot with the neighbourhood
      matrix(per.features, nb, (f, q) => per.weight[(f * C + (q % C)) * 9 + ((q / C) | 0)]);
      matrix(1, per.features, (_, q) => per.bias[q]);
    }
    for (const L of m.layers) {
      matrix(L.out, L.inp, (o, q) => L.weight[o * L.inp + q]);
      matrix(1, L.out, (_, q) => (L.bias ? L.bias[q] : 0));
    }
    const offsets = [];
    let texels = 0;
    for (const b of blocks) { offsets.push(texels); texels += b.rows * Math.ceil(b.cols / 4); }
    const height = Math.max(1, Math.ceil(texels / TEX_WIDTH));
    const data = new Float32Array(TEX_WIDTH * height * 4);
    blocks.forEach((b, n) => {
      const row4 = Math.ceil(b.cols / 4);
      for (let r = 0; r < b.rows; r++) {
        for (let q = 0; q < b.cols; q++) data[(offsets[n] + r * row4) * 4 + q] = b.value(r, q);
      }
    });
    return { data, height, offsets };
  }

  const ceil4 = (n) => Math.ceil(n / 4);

  /** GLSL shared by every pass: state samplers, padding, the 3x3 gather. */
  function common(m, prefix) {
    const T = ceil4(m.C);
    let s = "";
    for (let t = 0; t < T; t++) s += `uniform highp sampler2D ${prefix}${t};\n`;
    s += `vec4 ${prefix}at(int t, ivec2 q) {\n`;
    s += m.circular
      ? "  q = (q + u_size) % u_size;\n"
      : "  if (q.x < 0 || q.y < 0 || q.x >= u_size.x || q.y >= u_size.y) return vec4(0.0);\n";
    for (let t = 0; t < T; t++) s += `  if (t == ${t}) return texelFetch(${prefix}${t}, q, 0);\n`;
    s += "  return vec4(0.0);\n}\n";
    // channel c of the cell at q
    s += `float ${prefix}ch(ivec2 q, int c) { return ${prefix}at(c / 4, q)[c % 4]; }\n`;
    // some cell of the 3x3 neighbourhood has channel c above the threshold
    s += `bool ${prefix}above(ivec2 q, int c) {\n  float best = -1e30;\n`;
    s += "  for (int k = 0; k < 9; k++) best = max(best, " +
      `${prefix}ch(q + ivec2(k % 3 - 1, k / 3 - 1), c));\n  return best > ${flt(m.threshold)};\n}\n`;
    return s;
  }

  const flt = (v) => (Number.isInteger(v) ? `${v}.0` : String(v));
  const HEADER = "#version 300 es\nprecision highp float;\nprecision highp int;\nprecision highp sampler2D;\n" +
    "uniform ivec2 u_size;\n";

  function outputs(T) {
    let s = "";
    for (let t = 0; t < T; t++) s += `layout(location = ${t}) out vec4 o${t};\n`;
    return s;
  }

  function writeOut(T, from) {
    let s = "";
    for (let t = 0; t < T; t++) {
      s += `  o${t} = vec4(${[0, 1, 2, 3].map((r) => (4 * t + r < from.C ? `${from.v}[${4 * t + r}]` : "0.0")).join(", ")});\n`;
    }
    return s;
  }

  /** The delta function of one rule as GLSL (weights from sampler w): fills d[] from the neighbourhood. */
  function ruleGLSL(m, name, packed) {
    const C = m.C, NB = 9 * C, NB4 = ceil4(NB), per = m.perception;
    const widest = Math.max(per.features, ...m.layers.map((l) => l.out));
    const H4 = ceil4(widest);
    let s = `uniform highp sampler2D ${name}_w;\n`;
    s += `vec4 ${name}_tex(int i) { return texelFetch(${name}_w, ivec2(i % ${TEX_WIDTH}, i / ${TEX_WIDTH}), 0); }\n`;
    s += `void ${name}_delta(in vec4 nb[${NB4}], out float d[${m.mutable.length}]) {\n`;
    s += `  vec4 h[${H4}]; vec4 g[${H4}];\n  for (int i = 0; i < ${H4}; i++) { h[i] = vec4(0.0); g[i] = vec4(0.0); }\n`;
    let block = 0;
    if (per.kind === "fixed") {
      const bank = Array.from(per.bank, flt).join(", ");
      s += `  const float bank[${per.filters * 9}] = float[](${bank});\n`;
      s += `  for (int c = 0; c < ${C}; c++) for (int f = 0; f < ${per.filters}; f++) {\n`;
      s += "    float acc = 0.0;\n";
      s += `    for (int k = 0; k < 9; k++) { int q = k * ${C} + c; acc += bank[f * 9 + k] * nb[q / 4][q % 4]; }\n`;
      s += `    int o = c * ${per.filters} + f; h[o / 4][o % 4] = acc;\n  }\n`;
    } else {
      const w = packed.offsets[block++], b = packed.offsets[block++];
      s += `  for (int f = 0; f < ${per.features}; f++) {\n`;
      s += `    float acc = ${name}_tex(${b} + f / 4)[f % 4];\n`;
      s += `    for (int q = 0; q < ${NB4}; q++) acc += dot(${name}_tex(${w} + f * ${NB4} + q), nb[q]);\n`;
      s += "    h[f / 4][f % 4] = max(acc, 0.0);\n  }\n";
    }
    m.layers.forEach((L, l) => {
      const w = packed.offsets[block++], b = packed.offsets[block++], in4 = ceil4(L.inp);
      const last = l === m.layers.length - 1;
      s += `  for (int o = 0; o < ${L.out}; o++) {\n`;
      s += `    float acc = ${name}_tex(${b} + o / 4)[o % 4];\n`;
      s += `    for (int q = 0; q < ${in4}; q++) acc += dot(${name}_tex(${w} + o * ${in4} + q), h[q]);\n`;
      s += last ? "    d[o] = acc;\n  }\n" : "    g[o / 4][o % 4] = max(acc, 0.0);\n  }\n  h = g;\n";
    });
    return s + "}\n";
  }

  function updateShader(m, packedHost, adversary, packedAdversary) {
    const C = m.C, T = ceil4(C), NB4 = ceil4(9 * C), M = m.mutable.length;
    let s = HEADER + common(m, "s") + outputs(T);
    s += "uniform highp sampler2D u_fire;\nuniform highp sampler2D u_mask;\nuniform bool u_noisy;\n";
    for (let t = 0; t < ceil4(M); t++) s += `uniform highp sampler2D u_noise${t};\n`;
    s += ruleGLSL(m, "host", packedHost);
    if (adversary) s += ruleGLSL(adversary, "adv", packedAdversary);
    s += `const int MUTABLE[${M}] = int[](${Array.from(m.mutable).join(", ")});\n`;
    s += "void main() {\n  ivec2 p = ivec2(gl_FragCoord.xy);\n";
    s += `  float x[${T * 4}];\n`;
    for (let t = 0; t < T; t++) s += `  { vec4 v = texelFetch(s${t}, p, 0); x[${4 * t}] = v.x; x[${4 * t + 1}] = v.y; x[${4 * t + 2}] = v.z; x[${4 * t + 3}] = v.w; }\n`;
    let skip = "texelFetch(u_fire, p, 0).r < 0.5";
    if (m.living !== null && m.living !== undefined) skip += ` || x[${m.living}] <= ${flt(m.threshold)}`;
    if (m.alpha !== null && m.alpha !== undefined) skip += ` || !sabove(p, ${m.alpha})`;
    s += `  if (!(${skip})) {\n`;
    s += `    vec4 nb[${NB4}];\n    for (int i = 0; i < ${NB4}; i++) nb[i] = vec4(0.0);\n`;
    s += `    for (int k = 0; k < 9; k++) for (int c = 0; c < ${C}; c++) {\n`;
    s += `      int q = k * ${C} + c; nb[q / 4][q % 4] = sch(p + ivec2(k % 3 - 1, k / 3 - 1), c);\n    }\n`;
    s += `    float d[${M}];\n`;
    s += adversary ? "    if (texelFetch(u_mask, p, 0).r > 0.5) adv_delta(nb, d); else host_delta(nb, d);\n"
      : "    host_delta(nb, d);\n";
    s += `    for (int q = 0; q < ${M}; q++) {\n      float n = 0.0;\n`;
    for (let t = 0; t < ceil4(M); t++) s += `      if (u_noisy && q / 4 == ${t}) n = texelFetch(u_noise${t}, p, 0)[q % 4];\n`;
    s += "      x[MUTABLE[q]] += d[q] + n;\n    }\n  }\n";
    return s + writeOut(T, { C, v: "x" }) + "}\n";
  }

  function maskShader(m) {
    const T = ceil4(m.C);
    let s = HEADER + common(m, "s") + common(m, "n") + outputs(T);
    s += "void main() {\n  ivec2 p = ivec2(gl_FragCoord.xy);\n";
    s += `  float keep = sabove(p, ${m.alpha}) && nabove(p, ${m.alpha}) ? 1.0 : 0.0;\n`;
    for (let t = 0; t < T; t++) s += `  o${t} = texelFetch(n${t}, p, 0) * keep;\n`;
    for (const r of m.readonly) s += `  o${r >> 2}[${r % 4}] = texelFetch(n${r >> 2}, p, 0)[${r % 4}];\n`;
    return s + "}\n";
  }

  function perturbShader(m) {
    const C = m.C, T = ceil4(C), R = ceil4(C);
    let s = HEADER + common(m, "s") + outputs(T);
    s += `uniform vec4 u_A[${C * R}];\nuniform float u_clip;\n`;
    s += "void main() {\n  ivec2 p = ivec2(gl_FragCoord.xy);\n";
    s += `  vec4 x[${T}]; vec4 y[${T}];\n`;
    for (let t = 0; t < T; t++) s += `  x[${t}] = texelFetch(s${t}, p, 0); y[${t}] = vec4(0.0);\n`;
    const alive = m.alpha !== null && m.alpha !== undefined ? `sabove(p, ${m.alpha})`
      : `x[${m.living >> 2}][${m.living % 4}] > ${flt(m.threshold)}`;
    s += `  if (${alive}) {\n`;
    s += `    for (int i = 0; i < ${C}; i++) {\n      float xi = x[i / 4][i % 4];\n`;
    s += `      for (int r = 0; r < ${R}; r++) y[r] += xi * u_A[i * ${R} + r];\n    }\n`;
    s += `    for (int t = 0; t < ${T}; t++) y[t] = clamp(y[t], -u_clip, u_clip);\n  }\n`;
    for (const r of m.readonly) s += `  y[${r >> 2}][${r % 4}] = x[${r >> 2}][${r % 4}];\n`;
    for (let t = 0; t < T; t++) s += `  o${t} = y[${t}];\n`;
    return s + "}\n";
  }

  const VERTEX = "#version 300 es\nvoid main() {\n  vec2 v = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));\n" +
    "  gl_Position = vec4(v * 2.0 - 1.0, 0.0, 1.0);\n}\n";

  let shared = null; // one context for the page: browsers allow only a few
  function context() {
    if (shared === null) {
      const gl = document.createElement("canvas").getContext("webgl2");
      shared = gl && gl.getExtension("EXT_color_buffer_float") ? gl : undefined;
    }
    return shared;
  }

  /** A backend running model m on an H x W grid, or null where the browser lacks WebGL2 float targets
   * or the model is one only engine.js runs (symmetric perception and step, logic gate circuits). */
  function create(m, H, W) {
    if (m.perception.kind === "symmetric" || m.perception.kind === "logic" || m.gates || m.masking !== "pre_post") {
      return null;
    }
    const gl = context();
    if (!gl) return null;
    const T = ceil4(m.C), M = m.mutable.length;
    if (T > gl.getParameter(gl.MAX_DRAW_BUFFERS)) return null;
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.pixelStorei(gl.PACK_ALIGNMENT, 1);

    function texture(format, type, width, height, data) {
      const t = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, t);
      const internal = { [gl.RGBA]: gl.RGBA32F, [gl.RED]: gl.R8 }[format];
      gl.texImage2D(gl.TEXTURE_2D, 0, internal, width, height, 0, format, type, data || null);
      for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
      for (const p of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T]) gl.texParameteri(gl.TEXTURE_2D, p, gl.CLAMP_TO_EDGE);
      return t;
    }
    const stateTextures = () => Array.from({ length: T }, () => texture(gl.RGBA, gl.FLOAT, W, H));
    const buffers = [stateTextures(), stateTextures(), stateTextures()];
    const fboOf = new Map();
    function framebuffer(textures) {
      if (!fboOf.has(textures)) {
        const fb = gl.createFramebuffer();
        gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
        textures.forEach((t, n) => gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0 + n, gl.TEXTURE_2D, t, 0));
        gl.drawBuffers(textures.map((_, n) => gl.COLOR_ATTACHMENT0 + n));
        if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) throw new Error("float framebuffer incomplete");
        fboOf.set(textures, fb);
      }
      return fboOf.get(textures);
    }
    const fire = texture(gl.RED, gl.UNSIGNED_BYTE, W, H);
    const mask = texture(gl.RED, gl.UNSIGNED_BYTE, W, H);
    const noise = Array.from({ length: ceil4(M) }, () => texture(gl.RGBA, gl.FLOAT, W, H));

    function compileProgram(source) {
      const program = gl.createProgram();
      for (const [type, src] of [[gl.VERTEX_SHADER, VERTEX], [gl.FRAGMENT_SHADER, source]]) {
        const sh = gl.createShader(type);
        gl.shaderSource(sh, src);
        gl.compileShader(sh);
        if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(sh)}`);
        gl.attachShader(program, sh);
      }
      gl.linkProgram(program);
      if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(`link: ${gl.getProgramInfoLog(program)}`);
      return program;
    }
    const weightTextures = new Map();
    function weights(rule) {
      if (!weightTextures.has(rule)) {
        const packed = packWeights(rule);
        weightTextures.set(rule, { packed, texture: texture(gl.RGBA, gl.FLOAT, TEX_WIDTH, packed.height, packed.data) });
      }
      return weightTextures.get(rule);
    }
    const programs = new Map();
    function program(key, makeSource) {
      if (!programs.has(key)) programs.set(key, compileProgram(makeSource()));
      return programs.get(key);
    }

    /** Draw one pass into `target` with `samplers` {name: texture} and `uniforms` (a function). */
    function pass(prog, target, samplers, uniforms) {
      gl.useProgram(prog);
      gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer(target));
      gl.viewport(0, 0, W, H);
      gl.uniform2i(gl.getUniformLocation(prog, "u_size"), W, H);
      Object.entries(samplers).forEach(([name, tex], unit) => {
        gl.activeTexture(gl.TEXTURE0 + unit);
        gl.bindTexture(gl.TEXTURE_2D, tex);
        gl.uniform1i(gl.getUniformLocation(prog, name), unit);
      });
      if (uniforms) uniforms(prog);
      gl.drawArrays(gl.TRIANGLES, 0, 3);
    }
    const named = (prefix, textures) => Object.fromEntries(textures.map((t, n) => [`${prefix}${n}`, t]));

    let cur = 0; // index of the buffer holding the state
    function upload(textures, x, channels) {
      const groups = ceil4(channels), texel = new Float32Array(H * W * 4);
      for (let t = 0; t < groups; t++) {
        texel.fill(0);
        for (let p = 0; p < H * W; p++) {
          for (let r = 0; r < 4 && 4 * t + r < channels; r++) texel[p * 4 + r] = x[p * channels + 4 * t + r];
        }
        gl.bindTexture(gl.TEXTURE_2D, textures[t]);
        gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, W, H, gl.RGBA, gl.FLOAT, texel);
      }
    }
    function uploadBytes(tex, values) {
      const bytes = new Uint8Array(H * W);
      for (let p = 0; p < H * W; p++) bytes[p] = values[p] ? 255 : 0;
      gl.bindTexture(gl.TEXTURE_2D, tex);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, W, H, gl.RED, gl.UNSIGNED_BYTE, bytes);
    }

    const backend = {
      kind: "WebGL2",
      /** Free this backend's textures, framebuffers and programs (the page switches models). */
      dispose() {
        for (const t of [...buffers.flat(), fire, mask, ...noise, ...[...weightTextures.values()].map((w) => w.texture)]) {
          gl.deleteTexture(t);
        }
        for (const fb of fboOf.values()) gl.deleteFramebuffer(fb);
        for (const prog of programs.values()) gl.deleteProgram(prog);
      },
      read() {
        const x = new Float32Array(H * W * m.C), texel = new Float32Array(H * W * 4);
        buffers[cur].forEach((t, n) => {
          gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer([t]));
          gl.readBuffer(gl.COLOR_ATTACHMENT0);
          gl.readPixels(0, 0, W, H, gl.RGBA, gl.FLOAT, texel);
          for (let p = 0; p < H * W; p++) {
            for (let r = 0; r < 4 && 4 * n + r < m.C; r++) x[p * m.C + 4 * n + r] = texel[p * 4 + r];
          }
        });
        return x;
      },
      load(x) { upload(buffers[cur], x, m.C); },
      step(opts) {
        const rand = opts.rand || Math.random;
        uploadBytes(fire, opts.fire || E.drawFire(m, H * W, rand));
        const drawn = opts.noise !== undefined ? opts.noise : E.drawNoise(m, H * W, rand);
        if (drawn) upload(noise, drawn, M);
        const adversary = opts.adversary && opts.mask ? opts.adversary : null;
        if (adversary) uploadBytes(mask, opts.mask);
        const free = () => [0, 1, 2].filter((b) => b !== cur);
        let input = cur;
        if (opts.perturbation) {
          const P = opts.perturbation, R = ceil4(m.C);
          const A = new Float32Array(m.C * R * 4);
          for (let i = 0; i < m.C; i++) for (let j = 0; j < m.C; j++) A[(i * R) * 4 + j] = P.matrix[i * m.C + j];
          const out = free()[0];
          pass(program("perturb", () => perturbShader(m)), buffers[out], named("s", buffers[input]), (prog) => {
            gl.uniform4fv(gl.getUniformLocation(prog, "u_A"), A);
            gl.uniform1f(gl.getUniformLocation(prog, "u_clip"), P.clip);
          });
          input = out;
        }
        const host = weights(m), adv = adversary ? weights(adversary) : null;
        const updated = [0, 1, 2].filter((b) => b !== input && (m.alpha === null || m.alpha === undefined || b !== cur))[0];
        const samplers = { ...named("s", buffers[input]), u_fire: fire, u_mask: mask, ...named("u_noise", noise), host_w: host.texture };
        if (adv) samplers.adv_w = adv.texture;
        const key = `update:${adversary ? adversary.name : ""}`;
        pass(program(key, () => updateShader(m, host.packed, adversary, adv && adv.packed)), buffers[updated], samplers,
          (prog) => gl.uniform1i(gl.getUniformLocation(prog, "u_noisy"), drawn ? 1 : 0));
        if (m.alpha === null || m.alpha === undefined) { cur = updated; return; }
        // x *= pre & post: pre from the state the update read, post from its result
        const out = [0, 1, 2].find((b) => b !== input && b !== updated);
        pass(program("mask", () => maskShader(m)), buffers[out], { ...named("s", buffers[input]), ...named("n", buffers[updated]) });
        cur = out;
      },
    };
    backend.load(E.seed(m, H, W));
    return backend;
  }

  /** "SwiftShader", "llvmpipe", ... when the browser's GL renders in software, else null. */
  function softwareRenderer() {
    const gl = context();
    const info = gl && gl.getExtension("WEBGL_debug_renderer_info");
    const name = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "";
    const found = name.match(/swiftshader|llvmpipe|softpipe|software/i);
    return found ? found[0] : null;
  }

  window.NCAWebGL = { create, softwareRenderer };
})();
