/* ncaforge playground: the page. Runs the chosen model on a WebGL2 backend when the browser has one
 * (webgl.js), else on the JS engine (engine.js); both implement the same step.
 * URL options: ?model=NAME, ?backend=auto|webgl|js, ?paused=1, ?speed=STEPS_PER_FRAME, ?seed=N (reproducible).
 */
(function () {
  "use strict";
  const E = window.NCAEngine;
  const site = window.NCAFORGE_SITE;
  const params = new URLSearchParams(location.search);
  const $ = (id) => document.getElementById(id);
  const canvas = $("grid"), ctx = canvas.getContext("2d");

  const app = {
    host: null, H: 0, W: 0, backend: null, mask: null, perturbations: [], ks: [], composed: null,
    adversaries: [], adversary: 0, playing: params.get("paused") !== "1",
    speed: Math.min(16, Math.max(1, Number(params.get("speed")) || 2)), steps: 0,
    tool: "erase", radius: 6, rand: E.random(params.has("seed") ? Number(params.get("seed")) : null),
    rate: 0, image: null, timestamps: [], seedAngle: 0, seedMirror: false,
  };

  /** The JS engine as a backend: the state lives in a Float32Array. */
  function cpuBackend(model, H, W) {
    let x = E.seed(model, H, W, app.seedAngle, app.seedMirror);
    return {
      kind: "JS",
      read: () => x,
      load: (state) => { x = state; },
      step: (opts) => { x = E.step(model, x, H, W, opts); },
    };
  }

  /** webgl: WebGL2 whenever it works; auto (the default): WebGL2 on a GPU, JS where the browser's GL is a
   * software renderer (there the JS engine, which skips dead cells, is faster); js: the JS engine. */
  function makeBackend(model, H, W) {
    const wanted = params.get("backend") || "auto";
    if (wanted !== "js" && window.NCAWebGL && (wanted === "webgl" || !window.NCAWebGL.softwareRenderer())) {
      try {
        const gl = window.NCAWebGL.create(model, H, W);
        if (gl) return gl;
      } catch (e) {
        console.warn("WebGL2 backend unavailable, using JS:", e);
      }
    }
    const backend = cpuBackend(model, H, W);
    const software = wanted === "auto" && window.NCAWebGL && window.NCAWebGL.softwareRenderer();
    if (software) backend.kind = `JS (faster than the software GL here: ${software})`;
    return backend;
  }

  function selectModel(index) {
    const spec = site.models[index];
    app.host = E.compile(spec);
    [app.H, app.W] = spec.grid;
    canvas.width = app.W; canvas.height = app.H;
    app.image = ctx.createImageData(app.W, app.H);
    $("turn-box").hidden = !app.host.turnedSeeds.length;
    if (!app.host.turnedSeeds.length) setSeedTurn(0, false); // seeds that do not turn start as they are
    if (app.backend && app.backend.dispose) app.backend.dispose();
    app.backend = makeBackend(app.host, app.H, app.W);
    app.mask = new Uint8Array(app.H * app.W);
    app.perturbations = spec.perturbations.map(E.compilePerturbation);
    app.ks = app.perturbations.map(() => 0);
    app.composed = null;
    app.adversaries = spec.adversaries.map(E.compile);
    app.adversary = 0;
    app.steps = 0;
    $("description").textContent = spec.description || "";
    const classes = spec.view.kind === "classes"; // cells vote for classes of an input drawn in ink
    app.radius = classes ? 1.5 : 6; // MNIST strokes are 2-4 pixels wide
    $("radius").value = app.radius; $("radius-out").textContent = app.radius;
    buildTools(classes);
    buildAdversaries(spec);
    buildPerturbations(spec);
    buildDigits(spec, classes);
    $("legend").hidden = !classes;
    if (classes && spec.digits && spec.digits.length) loadDigit(spec.digits[0]);
    draw();
  }

  // ----- controls ---------------------------------------------------------------------------------
  /** The seed that Reset (and a model's start) grows from: turned, mirrored (families whose seeds turn). */
  function setSeedTurn(angle, mirror) {
    app.seedAngle = angle; app.seedMirror = mirror;
    $("seed-angle").value = String(angle); $("seed-angle-out").textContent = String(angle);
    $("seed-mirror").checked = mirror;
  }

  function reseed() {
    app.backend.load(E.seed(app.host, app.H, app.W, app.seedAngle, app.seedMirror));
    app.mask.fill(0); app.steps = 0; draw();
  }

  function radio(container, name, label, checked, onPick) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = label; b.setAttribute("role", "radio");
    b.dataset.tool = name;
    b.setAttribute("aria-checked", String(checked));
    b.addEventListener("click", () => {
      for (const other of container.children) other.setAttribute("aria-checked", "false");
      b.setAttribute("aria-checked", "true");
      onPick(name);
    });
    container.appendChild(b);
  }

  function buildTools(ink) {
    const box = $("tools");
    box.replaceChildren();
    const tools = ink ? [["ink", "Draw ink"], ["erase", "Erase"]] : [["erase", "Erase (damage)"]];
    if (app.adversaries.length) tools.push(["adversary", "Place adversaries"], ["unadversary", "Remove adversaries"]);
    app.tool = tools[0][0];
    for (const [name, label] of tools) radio(box, name, label, name === app.tool, (t) => { app.tool = t; });
  }

  function buildAdversaries(spec) {
    $("adversary-box").hidden = !spec.adversaries.length;
    const select = $("adversary");
    select.replaceChildren(...spec.adversaries.map((a, i) => new Option(a.name, String(i))));
    select.title = spec.adversaries.map((a) => `${a.name}: ${a.description}`).join("\n");
  }

  function buildPerturbations(spec) {
    const box = $("perturbations");
    box.replaceChildren();
    $("perturbation-box").hidden = !spec.perturbations.length;
    spec.perturbations.forEach((p, i) => {
      const div = document.createElement("div");
      div.className = "perturbation";
      const id = `k-${i}`;
      div.innerHTML = `<label for="${id}"><span></span><output for="${id}">0.00</output></label>
        <input id="${id}" type="range" min="-1" max="2" step="0.05" value="0">`;
      div.querySelector("span").textContent = `k ${p.name.replace(/^perturb-/, "")}`;
      div.title = p.description || p.name;
      const input = div.querySelector("input"), out = div.querySelector("output");
      input.dataset.perturbation = p.name;
      input.addEventListener("input", () => {
        app.ks[i] = Number(input.value);
        out.textContent = app.ks[i].toFixed(2);
        app.composed = E.compose(app.perturbations, app.ks);
      });
      box.appendChild(div);
    });
  }

  function buildDigits(spec, classes) {
    const digits = spec.digits || [];
    $("digit-box").hidden = !classes;
    $("digits-hint").hidden = !digits.length;
    const box = $("digits");
    box.replaceChildren();
    for (const digit of digits) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = String(digit.label);
      b.setAttribute("aria-label", `Load an MNIST ${digit.label}`);
      b.addEventListener("click", () => loadDigit(digit));
      box.appendChild(b);
    }
  }

  function loadDigit(digit) {
    const image = E.decode(digit.image), x = new Float32Array(app.H * app.W * app.host.C);
    for (let p = 0; p < app.H * app.W; p++) x[p * app.host.C + app.host.view.living] = image[p];
    app.backend.load(x);
    app.mask.fill(0);
    app.steps = 0;
    draw();
  }

  function buildLegend(counts) {
    const box = $("legend");
    const total = counts.reduce((a, b) => a + b, 0) || 1;
    box.replaceChildren(...counts.map((n, k) => {
      const s = document.createElement("span");
      const [r, g, b] = E.CLASS_RGB[k];
      s.innerHTML = `<span class="swatch" style="background: rgb(${r}, ${g}, ${b})"></span> ${k}: `;
      s.append(`${Math.round((100 * n) / total)}%`);
      return s;
    }));
  }

  // ----- running ----------------------------------------------------------------------------------
  function stepOnce() {
    const hasAdversaries = app.adversaries.length && app.mask.some((v) => v);
    app.backend.step({
      rand: app.rand, perturbation: app.composed,
      adversary: hasAdversaries ? app.adversaries[app.adversary] : null, mask: hasAdversaries ? app.mask : null,
    });
    app.steps++;
    const now = performance.now();
    app.timestamps.push(now);
    while (app.timestamps.length && app.timestamps[0] < now - 1000) app.timestamps.shift();
    app.rate = app.timestamps.length > 1
      ? (1000 * (app.timestamps.length - 1)) / (now - app.timestamps[0]) : 0;
  }

  function draw() {
    const x = app.backend.read();
    E.render(app.host, x, app.H, app.W, app.mask, app.image.data);
    ctx.putImageData(app.image, 0, 0);
    $("status").textContent = `step ${app.steps} · ${app.rate.toFixed(1)} steps/s · ${app.backend.kind}` +
      (app.playing ? "" : " · paused");
    if (app.host.view.kind === "classes") buildLegend(E.tally(app.host, x, app.H, app.W));
  }

  function frame() {
    if (app.playing) {
      const start = performance.now();
      for (let n = 0; n < app.speed; n++) {
        stepOnce();
        if (performance.now() - start > 40) break; // keep the page responsive on slow machines
      }
    }
    draw();
    requestAnimationFrame(frame);
  }

  function setPlaying(on) {
    app.playing = on;
    $("play").textContent = on ? "Pause" : "Play";
    $("play").setAttribute("aria-pressed", String(on));
  }

  // ----- brushes ----------------------------------------------------------------------------------
  function paint(ci, cj) {
    const r = app.radius, C = app.host.C, H = app.H, W = app.W;
    const x = app.tool === "erase" || app.tool === "ink" ? app.backend.read() : null;
    for (let i = Math.max(0, Math.floor(ci - r)); i <= Math.min(H - 1, Math.ceil(ci + r)); i++) {
      for (let j = Math.max(0, Math.floor(cj - r)); j <= Math.min(W - 1, Math.ceil(cj + r)); j++) {
        const d = Math.hypot(i - ci, j - cj), p = i * W + j;
        if (d > r) continue;
        if (app.tool === "erase") x.fill(0, p * C, p * C + C);
        else if (app.tool === "adversary") app.mask[p] = 1;
        else if (app.tool === "unadversary") app.mask[p] = 0;
        else if (app.tool === "ink") {
          const ink = Math.min(1, Math.max(0, r + 0.5 - d));
          const q = p * C + app.host.view.living;
          x[q] = Math.max(x[q], ink);
        }
      }
    }
    if (x) app.backend.load(x);
  }

  let last = null;
  function cellAt(event) {
    const rect = canvas.getBoundingClientRect();
    return [((event.clientY - rect.top) / rect.height) * app.H - 0.5, ((event.clientX - rect.left) / rect.width) * app.W - 0.5];
  }
  function stroke(event) {
    const [i, j] = cellAt(event);
    const [i0, j0] = last || [i, j];
    const n = Math.max(1, Math.ceil(Math.hypot(i - i0, j - j0) / Math.max(0.5, app.radius / 2)));
    for (let s = 1; s <= n; s++) paint(i0 + ((i - i0) * s) / n, j0 + ((j - j0) * s) / n);
    last = [i, j];
    draw();
  }
  canvas.addEventListener("pointerdown", (e) => { canvas.setPointerCapture(e.pointerId); last = null; stroke(e); });
  canvas.addEventListener("pointermove", (e) => { if (e.buttons) stroke(e); });
  canvas.addEventListener("pointerup", () => { last = null; });

  // ----- wiring -----------------------------------------------------------------------------------
  const picker = $("model");
  picker.replaceChildren(...site.models.map((m, i) => new Option(`${m.name} (${m.family})`, String(i))));
  picker.addEventListener("change", () => selectModel(Number(picker.value)));
  $("play").addEventListener("click", () => setPlaying(!app.playing));
  $("step").addEventListener("click", () => { setPlaying(false); stepOnce(); draw(); });
  $("reset").addEventListener("click", reseed);
  $("seed-angle").addEventListener("input", (e) => { setSeedTurn(Number(e.target.value), app.seedMirror); reseed(); });
  $("seed-mirror").addEventListener("change", (e) => { setSeedTurn(app.seedAngle, e.target.checked); reseed(); });
  $("speed").addEventListener("input", (e) => { app.speed = Number(e.target.value); $("speed-out").textContent = app.speed; });
  $("radius").addEventListener("input", (e) => { app.radius = Number(e.target.value); $("radius-out").textContent = app.radius; });
  $("adversary").addEventListener("change", (e) => { app.adversary = Number(e.target.value); });
  $("clear-adversaries").addEventListener("click", () => { app.mask.fill(0); draw(); });
  $("clear-digit").addEventListener("click", () => {
    app.backend.load(new Float32Array(app.H * app.W * app.host.C)); app.mask.fill(0); app.steps = 0; draw();
  });
  $("zero-perturbations").addEventListener("click", () => {
    for (const input of $("perturbations").querySelectorAll("input")) {
      input.value = "0"; input.dispatchEvent(new Event("input"));
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.closest && e.target.closest("input, select, textarea")) return;
    if (e.key === " ") { e.preventDefault(); setPlaying(!app.playing); }
    else if (e.key === "s") $("step").click();
    else if (e.key === "r") $("reset").click();
  });
  $("version").textContent = site.ncaforge_version;
  $("speed").value = app.speed; $("speed-out").textContent = app.speed;

  const wanted = site.models.findIndex((m) => m.name === params.get("model"));
  picker.value = String(Math.max(0, wanted));
  selectModel(Math.max(0, wanted));
  setPlaying(app.playing);
  window.playground = app; // for tests and the curious: app.steps, app.rate, app.backend.kind
  document.body.dataset.ready = "true";
  requestAnimationFrame(frame);
})();
