// The hard circuit of a logic CA on rows of 64-bit words (64 cells a word), compiled once per machine.
//
// run(rows, layers): rows is an (n_in, W) uint64 array; layers a list of (functions, a, b) int64
// arrays, each gate reading rows a and b of the layer before. Words are done in chunks small enough
// that a chunk's rows for every layer stay in cache; within a chunk each gate is one loop of bitwise
// operations over its words (vectorised by the compiler). Pass-through gates point at their input.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace py = pybind11;
using word = std::uint64_t;

namespace {

constexpr std::int64_t CHUNK = 64;  // words per chunk: 512 bytes a row

struct Layer {
  std::vector<std::int64_t> f, a, b;
};

inline void gate(std::int64_t f, const word* x, const word* y, word* out, std::int64_t n) {
  switch (f) {  // the 16 functions in FUNCTIONS' order
    case 0: for (std::int64_t i = 0; i < n; ++i) out[i] = 0; break;
    case 1: for (std::int64_t i = 0; i < n; ++i) out[i] = x[i] & y[i]; break;
    case 2: for (std::int64_t i = 0; i < n; ++i) out[i] = x[i] & ~y[i]; break;
    case 4: for (std::int64_t i = 0; i < n; ++i) out[i] = ~x[i] & y[i]; break;
    case 6: for (std::int64_t i = 0; i < n; ++i) out[i] = x[i] ^ y[i]; break;
    case 7: for (std::int64_t i = 0; i < n; ++i) out[i] = x[i] | y[i]; break;
    case 8: for (std::int64_t i = 0; i < n; ++i) out[i] = ~(x[i] | y[i]); break;
    case 9: for (std::int64_t i = 0; i < n; ++i) out[i] = ~(x[i] ^ y[i]); break;
    case 10: for (std::int64_t i = 0; i < n; ++i) out[i] = ~y[i]; break;
    case 11: for (std::int64_t i = 0; i < n; ++i) out[i] = x[i] | ~y[i]; break;
    case 12: for (std::int64_t i = 0; i < n; ++i) out[i] = ~x[i]; break;
    case 13: for (std::int64_t i = 0; i < n; ++i) out[i] = ~x[i] | y[i]; break;
    case 14: for (std::int64_t i = 0; i < n; ++i) out[i] = ~(x[i] & y[i]); break;
    case 15: for (std::int64_t i = 0; i < n; ++i) out[i] = ~word(0); break;
    default: throw std::invalid_argument("gate function out of range");
  }
}

py::array_t<word> run(py::array_t<word, py::array::c_style | py::array::forcecast> rows, py::list layers) {
  if (rows.ndim() != 2) throw std::invalid_argument("rows must be (n, words)");
  const std::int64_t n_in = rows.shape(0), words = rows.shape(1);
  std::vector<Layer> net;
  std::int64_t widest = n_in;
  for (auto item : layers) {
    auto t = item.cast<py::tuple>();
    Layer l{t[0].cast<std::vector<std::int64_t>>(), t[1].cast<std::vector<std::int64_t>>(),
            t[2].cast<std::vector<std::int64_t>>()};
    widest = std::max<std::int64_t>(widest, static_cast<std::int64_t>(l.f.size()));
    net.push_back(std::move(l));
  }
  const std::int64_t n_out = net.empty() ? n_in : static_cast<std::int64_t>(net.back().f.size());
  py::array_t<word> result({n_out, words});
  const word* in = rows.data();
  word* out = result.mutable_data();
  std::vector<word> zero(CHUNK, 0), scratch[2] = {std::vector<word>(widest * CHUNK),
                                                   std::vector<word>(widest * CHUNK)};
  {
    py::gil_scoped_release release;
    std::vector<const word*> now, next;
    for (std::int64_t start = 0; start < words; start += CHUNK) {
      const std::int64_t n = std::min(CHUNK, words - start);
      now.assign(n_in, nullptr);
      for (std::int64_t r = 0; r < n_in; ++r) now[r] = in + r * words + start;
      if (now.empty()) now.push_back(zero.data());  // nothing read before: any row will do
      for (std::size_t k = 0; k < net.size(); ++k) {
        const Layer& l = net[k];
        word* buffer = scratch[k % 2].data();
        next.assign(l.f.size(), nullptr);
        for (std::size_t g = 0; g < l.f.size(); ++g) {
          if (l.f[g] == 3) { next[g] = now[l.a[g]]; continue; }  // pass-through: the row itself
          if (l.f[g] == 5) { next[g] = now[l.b[g]]; continue; }
          word* row = buffer + g * CHUNK;
          gate(l.f[g], now[l.a[g]], now[l.b[g]], row, n);
          next[g] = row;
        }
        // a pass-through may point into the scratch buffer two layers back: copy those rows out now
        for (std::size_t g = 0; g < next.size(); ++g) {
          const word* p = next[g];
          const word* other = scratch[(k + 1) % 2].data();
          if (p >= other && p < other + widest * CHUNK) {
            word* row = buffer + g * CHUNK;
            for (std::int64_t i = 0; i < n; ++i) row[i] = p[i];
            next[g] = row;
          }
        }
        std::swap(now, next);
        if (now.empty()) now.push_back(zero.data());
      }
      for (std::int64_t r = 0; r < n_out; ++r) {
        for (std::int64_t i = 0; i < n; ++i) out[r * words + start + i] = now[r][i];
      }
    }
  }
  return result;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("run", &run, "Rows of uint64 words through layers of gates (functions, a, b).");
}
