// Run in the page (tests/test_web_browser.py): one step of every exported model on the WebGL2 backend
// and on the JS engine, from the same state with the same fire mask and noise, plain, perturbed
// (every perturbation, k = 0.7, -0.4, ...) and with adversaries on a fifth of the cells.
// Returns {model: {case: {max_diff, max_change}}} or the string "no webgl2".
(() => {
  const E = window.NCAEngine, out = {};
  for (const spec of window.NCAFORGE_SITE.models) {
    const m = E.compile(spec), [H, W] = spec.grid, N = H * W, rand = E.random(5);
    let x = E.seed(m, H, W);
    if (spec.digits && spec.digits.length) { // a class view's input: start from a digit
      const image = E.decode(spec.digits[0].image);
      for (let p = 0; p < N; p++) x[p * m.C + m.view.living] = image[p];
    }
    for (let i = 0; i < 60; i++) x = E.step(m, x, H, W, { rand });
    const gl = window.NCAWebGL.create(m, H, W);
    if (!gl) return "no webgl2";
    const perturbations = spec.perturbations.map(E.compilePerturbation);
    const mask = Uint8Array.from({ length: N }, () => (rand() < 0.2 ? 1 : 0));
    const cases = { plain: {} };
    if (perturbations.length) {
      cases.perturbed = { perturbation: E.compose(perturbations, perturbations.map((_, i) => (i % 2 ? -0.4 : 0.7))) };
    }
    if (spec.adversaries.length) cases.adversaries = { adversary: E.compile(spec.adversaries[0]), mask };
    out[spec.name] = {};
    for (const [name, extra] of Object.entries(cases)) {
      const opts = { fire: E.drawFire(m, N, rand), noise: E.drawNoise(m, N, rand), ...extra };
      gl.load(x);
      gl.step(opts);
      const got = gl.read(), want = E.step(m, x, H, W, opts);
      let diff = 0, change = 0;
      for (let q = 0; q < want.length; q++) {
        diff = Math.max(diff, Math.abs(got[q] - want[q]));
        change = Math.max(change, Math.abs(want[q] - x[q]));
      }
      out[spec.name][name] = { max_diff: diff, max_change: change };
    }
  }
  return out;
})()
