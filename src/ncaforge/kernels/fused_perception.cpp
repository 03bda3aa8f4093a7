// Fixed-filter perception of chosen cells on channels-last CPU states, its adjoint, and the backward of
// relu-then-linear: the parts of an NCA step that plain torch ops run slowly (built by fused_cells.py).
//
// Features are filter-major, (j * C + ch) for filter j and channel ch, so that every inner loop is a
// contiguous run of C channels: vertical multiply-adds with loaded coefficients, no shuffles.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

namespace {

constexpr int64_t kMaxFeatures = 1024;
constexpr int64_t kRowBlock = 512;  // rows per partial bias sum: fixed, so sums do not depend on threads

// The rows (or columns) above, at and below coordinate i of an axis of length n; -1 off a zero-padded grid.
inline void around(int64_t i, int64_t n, bool circular, int64_t out[3]) {
  out[0] = i > 0 ? i - 1 : (circular ? n - 1 : -1);
  out[1] = i;
  out[2] = i < n - 1 ? i + 1 : (circular ? 0 : -1);
}

// spread[(k * f + j) * c + ch] = bank[j][k]: each tap's coefficients laid out like a cell's features.
template <typename T>
std::vector<T> spread(const T* bank, int64_t f, int64_t c) {
  std::vector<T> out(9 * f * c);
  for (int64_t k = 0; k < 9; ++k)
    for (int64_t j = 0; j < f; ++j) std::fill_n(out.begin() + (k * f + j) * c, c, bank[j * 9 + k]);
  return out;
}

// out[i] = the features of cell idx[i]: sum over taps k of bank[j][k] * x[neighbour k].
// `channels` is C where C is a common count (a compile-time constant: the loops unroll into registers).
template <typename T, int64_t f, int64_t channels>
void forward_kernel(const T* __restrict__ x, const int64_t* idx, const T* bank, T* __restrict__ out, int64_t n,
                    int64_t h, int64_t w, int64_t c_, bool circular) {
  const int64_t c = channels ? channels : c_;
  const std::vector<T> coef = spread(bank, f, c), zeros(c, T(0));
  at::parallel_for(0, n, 1024, [&](int64_t begin, int64_t end) {
    T acc[channels ? f * channels : kMaxFeatures];
    for (int64_t i = begin; i < end; ++i) {
      // 32-bit division: the callers' grids have fewer than 2^31 cells
      const uint32_t cell = idx[i], row = cell / uint32_t(w), y = row % uint32_t(h), xx = cell - row * w;
      int64_t ys[3], xs[3];
      around(y, h, circular, ys);
      around(xx, w, circular, xs);
      std::fill(acc, acc + f * c, T(0));
#pragma GCC unroll 9
      for (int64_t k = 0; k < 9; ++k) {  // off-grid neighbours read a zero row: a select, not a branch
        const bool off = ys[k / 3] < 0 || xs[k % 3] < 0;
        const T* __restrict__ v = off ? zeros.data() : x + ((row - y + ys[k / 3]) * w + xs[k % 3]) * c;
        const T* __restrict__ ck = coef.data() + k * f * c;
        for (int64_t j = 0; j < f; ++j)
          for (int64_t ch = 0; ch < c; ++ch) acc[j * c + ch] += ck[j * c + ch] * v[ch];
      }
      std::copy(acc, acc + f * c, out + i * f * c);
    }
  });
}

// out[q] = sum over the cells p that read q as their neighbour k of bank[.][k] . g[p]; pos[p] is p's row
// in g, or -1 where p did not fire. Each thread owns whole rows of out: no scatter, no atomics.
template <typename T, int64_t f, int64_t channels>
void backward_kernel(const T* __restrict__ g, const int64_t* pos, const T* bank, T* __restrict__ out,
                     int64_t batch, int64_t h, int64_t w, int64_t c_, bool circular) {
  const int64_t c = channels ? channels : c_;
  const std::vector<T> coef = spread(bank, f, c), zeros(f * c, T(0));
  at::parallel_for(0, batch * h, 8, [&](int64_t begin, int64_t end) {
    T acc[channels ? f * channels : kMaxFeatures];
    for (int64_t row = begin; row < end; ++row) {
      int64_t ys[3], xs[3];
      around(row % h, h, circular, ys);
      const int64_t base = row - row % h;
      for (int64_t xx = 0; xx < w; ++xx) {
        around(xx, w, circular, xs);
        std::fill(acc, acc + f * c, T(0));
#pragma GCC unroll 9
        for (int64_t k = 0; k < 9; ++k) {
          // p read q as its neighbour k when p + d_k = q: p is q's neighbour 8 - k. Off-grid and unfired
          // cells read a zero row: selects, not branches, so that acc stays in registers
          const int64_t py = ys[2 - k / 3], px = xs[2 - k % 3];
          const int64_t at = (py < 0 || px < 0) ? -1 : pos[(base + py) * w + px];
          const T* __restrict__ gp = at < 0 ? zeros.data() : g + at * f * c;
          const T* __restrict__ ck = coef.data() + k * f * c;
          for (int64_t m = 0; m < f * c; ++m) acc[m] += ck[m] * gp[m];
        }
        T* __restrict__ o = out + (row * w + xx) * c;
        for (int64_t ch = 0; ch < c; ++ch) o[ch] = acc[ch];
        for (int64_t j = 1; j < f; ++j)
          for (int64_t ch = 0; ch < c; ++ch) o[ch] += acc[j * c + ch];
      }
    }
  });
}

template <typename T>
void relu_linear_backward_kernel(const T* __restrict__ gd, const T* __restrict__ w, const T* __restrict__ h,
                                 T* __restrict__ gh, T* __restrict__ partial, int64_t n, int64_t k, int64_t m) {
  constexpr int64_t kLanes = 32 / sizeof(T), kVecs = 4, kBlock = kLanes * kVecs;  // columns per register block
  typedef T Vec __attribute__((vector_size(kLanes * sizeof(T))));
  const int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t block = begin; block < end; ++block) {
      T* __restrict__ sum = partial + block * m;
      std::fill(sum, sum + m, T(0));
      for (int64_t i = block * kRowBlock; i < std::min(n, (block + 1) * kRowBlock); ++i) {
        const T* __restrict__ gi = gd + i * k;
        const T* __restrict__ hi = h + i * m;
        T* __restrict__ row = gh + i * m;
        int64_t j0 = 0;
        for (; j0 + kBlock <= m; j0 += kBlock) {
          Vec acc[kVecs] = {}, wv;
          for (int64_t kk = 0; kk < k; ++kk) {
            const Vec g = Vec{} + gi[kk];  // broadcast
#pragma GCC unroll 4
            for (int64_t v = 0; v < kVecs; ++v) {
              std::memcpy(&wv, w + kk * m + j0 + v * kLanes, sizeof(Vec));
              acc[v] += g * wv;
            }
          }
          std::memcpy(row + j0, acc, sizeof(acc));
        }
        for (int64_t j = j0; j < m; ++j) {  // the columns left over
          T a = 0;
          for (int64_t kk = 0; kk < k; ++kk) a += gi[kk] * w[kk * m + j];
          row[j] = a;
        }
        for (int64_t j = 0; j < m; ++j) {
          row[j] = hi[j] > T(0) ? row[j] : T(0);
          sum[j] += row[j];
        }
      }
    }
  });
}

// In place, hidden = relu(pre + b1); then delta = hidden @ w2.T (+ b2) for w2 (k, m). One pass over the rows
// instead of addmm's bias copy, a relu pass and a mm whose 12-wide output MKL runs slowly. The dot products
// run kLanes at a time into k vector accumulators (registers when k is fixed), reduced once per row.
template <typename T, int64_t outputs>
void bias_relu_linear_kernel(T* __restrict__ pre, const T* __restrict__ b1, const T* __restrict__ w2,
                             const T* b2, T* __restrict__ delta, int64_t n, int64_t m, int64_t k_) {
  constexpr int64_t kLanes = 32 / sizeof(T);
  typedef T Vec __attribute__((vector_size(kLanes * sizeof(T))));
  const int64_t k = outputs ? outputs : k_;
  at::parallel_for(0, n, 256, [&](int64_t begin, int64_t end) {
    Vec acc[outputs ? outputs : kMaxFeatures];
    for (int64_t i = begin; i < end; ++i) {
      T* __restrict__ hi = pre + i * m;
      for (int64_t j = 0; j < m; ++j) hi[j] = std::max(hi[j] + b1[j], T(0));
      for (int64_t kk = 0; kk < k; ++kk) acc[kk] = Vec{};
      int64_t j0 = 0;
      for (; j0 + kLanes <= m; j0 += kLanes) {
        Vec hv, wv;
        std::memcpy(&hv, hi + j0, sizeof(Vec));
#pragma GCC unroll 16
        for (int64_t kk = 0; kk < k; ++kk) {
          std::memcpy(&wv, w2 + kk * m + j0, sizeof(Vec));
          acc[kk] += hv * wv;
        }
      }
      for (int64_t kk = 0; kk < k; ++kk) {
        T sum = b2 ? b2[kk] : T(0);
        for (int64_t l = 0; l < kLanes; ++l) sum += acc[kk][l];
        for (int64_t j = j0; j < m; ++j) sum += hi[j] * w2[kk * m + j];
        delta[i * k + kk] = sum;
      }
    }
  });
}

// Calls body(f, c) with f and c as std::integral_constants, c = 0 for an uncommon channel count, so that
// the kernels' inner loops have fixed lengths.
template <typename Body>
void with_sizes(int64_t f, int64_t c, Body body) {
  auto with_channels = [&](auto filters) {
    switch (c) {
      case 4: return body(filters, std::integral_constant<int64_t, 4>());
      case 8: return body(filters, std::integral_constant<int64_t, 8>());
      case 12: return body(filters, std::integral_constant<int64_t, 12>());
      case 16: return body(filters, std::integral_constant<int64_t, 16>());
      default: return body(filters, std::integral_constant<int64_t, 0>());
    }
  };
  switch (f) {
    case 1: return with_channels(std::integral_constant<int64_t, 1>());
    case 2: return with_channels(std::integral_constant<int64_t, 2>());
    case 3: return with_channels(std::integral_constant<int64_t, 3>());
    case 4: return with_channels(std::integral_constant<int64_t, 4>());
    case 5: return with_channels(std::integral_constant<int64_t, 5>());
    case 6: return with_channels(std::integral_constant<int64_t, 6>());
    default: TORCH_CHECK(false, "the fused perception takes 1 to 6 filters, got ", f);
  }
}

}  // namespace

// x: (B, H, W, C) channels-last, idx: (n,) flat cell indices, bank: (F, 9). Returns (n, F*C), filter-major.
torch::Tensor perceive(torch::Tensor x, torch::Tensor idx, torch::Tensor bank, bool circular) {
  TORCH_CHECK(x.device().is_cpu() && x.dim() == 4, "the fused perception takes a (B, H, W, C) CPU state");
  TORCH_CHECK(bank.dim() == 2 && bank.size(1) == 9, "the filter bank must be (F, 9)");
  TORCH_CHECK(x.size(3) * bank.size(0) <= kMaxFeatures, "the fused perception makes at most ", kMaxFeatures,
              " features per cell, got ", x.size(3) * bank.size(0));
  x = x.contiguous();
  idx = idx.contiguous();
  bank = bank.to(x.scalar_type()).contiguous();
  const int64_t h = x.size(1), w = x.size(2), c = x.size(3), f = bank.size(0), n = idx.size(0);
  auto out = torch::empty({n, f * c}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "perceive", [&] {
    with_sizes(f, c, [&](auto filters, auto channels) {
      forward_kernel<scalar_t, filters(), channels()>(x.data_ptr<scalar_t>(), idx.data_ptr<int64_t>(),
                                                      bank.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), n, h,
                                                      w, c, circular);
    });
  });
  return out;
}

// The adjoint: g (n, F*C) -> (B, H, W, C), summing each feature's gradient into the cells it read.
torch::Tensor perceive_backward(torch::Tensor g, torch::Tensor idx, torch::Tensor bank, bool circular,
                                int64_t batch, int64_t h, int64_t w) {
  TORCH_CHECK(bank.dim() == 2 && bank.size(1) == 9, "the filter bank must be (F, 9)");
  g = g.contiguous();
  idx = idx.contiguous();
  bank = bank.to(g.scalar_type()).contiguous();
  const int64_t f = bank.size(0), c = g.size(1) / f, cells = batch * h * w;
  TORCH_CHECK(g.dim() == 2 && g.size(0) == idx.size(0) && g.size(1) == f * c && f * c <= kMaxFeatures,
              "perceive_backward takes one row of F*C gradients per cell");
  auto pos = torch::full({cells}, -1, idx.options());
  pos.index_put_({idx}, torch::arange(idx.size(0), idx.options()));
  auto out = torch::empty({batch, h, w, c}, g.options());
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "perceive_backward", [&] {
    with_sizes(f, c, [&](auto filters, auto channels) {
      backward_kernel<scalar_t, filters(), channels()>(g.data_ptr<scalar_t>(), pos.data_ptr<int64_t>(),
                                                       bank.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), batch,
                                                       h, w, c, circular);
    });
  });
  return out;
}

// The backward of relu(a) -> a @ w.T for gd = grad of the output (n, k), w (k, m) and h = relu(a) (n, m):
// returns (gd @ w masked where h <= 0, its column sums). One pass over rows instead of a mm with k = 12
// (which MKL runs slowly), a threshold_backward and a sum.
std::vector<torch::Tensor> relu_linear_backward(torch::Tensor gd, torch::Tensor w, torch::Tensor h) {
  gd = gd.contiguous();
  w = w.contiguous();
  h = h.contiguous();
  TORCH_CHECK(gd.dim() == 2 && w.dim() == 2 && h.dim() == 2 && gd.size(1) == w.size(0) && w.size(1) == h.size(1)
              && gd.size(0) == h.size(0), "relu_linear_backward takes gd (n, k), w (k, m) and h (n, m)");
  const int64_t n = gd.size(0), k = gd.size(1), m = w.size(1);
  auto gh = torch::empty({n, m}, gd.options());
  auto partial = torch::empty({(n + kRowBlock - 1) / kRowBlock, m}, gd.options());
  AT_DISPATCH_FLOATING_TYPES(gd.scalar_type(), "relu_linear_backward", [&] {
    relu_linear_backward_kernel<scalar_t>(gd.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(),
                                          gh.data_ptr<scalar_t>(), partial.data_ptr<scalar_t>(), n, k, m);
  });
  return {gh, partial.sum(0)};
}

// hidden = relu(pre + b1) in place in pre (n, m), and returns hidden @ w2.T + b2 for w2 (k, m), b2 (k) or none.
torch::Tensor bias_relu_linear(torch::Tensor pre, torch::Tensor b1, torch::Tensor w2, c10::optional<torch::Tensor> b2) {
  TORCH_CHECK(pre.is_contiguous() && pre.dim() == 2 && b1.numel() == pre.size(1) && w2.dim() == 2
              && w2.size(1) == pre.size(1) && w2.size(0) <= kMaxFeatures,
              "bias_relu_linear takes a contiguous pre (n, m), b1 (m) and w2 (k, m)");
  const int64_t n = pre.size(0), m = pre.size(1), k = w2.size(0);
  auto weight = w2.contiguous();
  auto bias1 = b1.contiguous();
  torch::Tensor bias2 = b2.has_value() ? b2->contiguous() : torch::Tensor();
  auto delta = torch::empty({n, k}, pre.options());
  AT_DISPATCH_FLOATING_TYPES(pre.scalar_type(), "bias_relu_linear", [&] {
    const scalar_t* b2p = bias2.defined() ? bias2.data_ptr<scalar_t>() : nullptr;
    auto run = [&](auto outputs) {
      bias_relu_linear_kernel<scalar_t, outputs()>(pre.data_ptr<scalar_t>(), bias1.data_ptr<scalar_t>(),
                                                   weight.data_ptr<scalar_t>(), b2p, delta.data_ptr<scalar_t>(), n,
                                                   m, k);
    };
    switch (k) {
      case 12: return run(std::integral_constant<int64_t, 12>());
      case 16: return run(std::integral_constant<int64_t, 16>());
      default: return run(std::integral_constant<int64_t, 0>());
    }
  });
  return delta;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("perceive", &perceive, "fixed-filter perception of chosen cells (channels-last; filter-major features)");
  m.def("perceive_backward", &perceive_backward, "its adjoint");
  m.def("bias_relu_linear", &bias_relu_linear, "relu(pre + b1) in place, then a linear layer");
  m.def("relu_linear_backward", &relu_linear_backward, "grad through relu then a linear layer, and bias grad");
}
