#include "cpu/matmul.h"

#include "cpu/kernels.h"
#include "rapide/inference/quant.h"

#include <algorithm>
#include <atomic>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace rapide::inference::cpu {

namespace {

// Weight bytes of a prefill row panel: small enough to stay in L2 (512 KiB per core here) while
// the token tiles stream past it.
constexpr std::size_t kPanelBytes = 192 * 1024;
// How far ahead of the row being read the one-token path prefetches (within L1 and L2 reach).
constexpr std::size_t kGemvPrefetchBytes = 6 * 1024;
// Tokens per tile: what the tile kernels take at once.
constexpr std::int64_t kTileTokens = 4;
// Weight rows decoded per task on the float path.
constexpr std::int64_t kFloatRows = 16;
constexpr std::int64_t kFloatTokens = 8;

#if defined(__x86_64__) || defined(__i386__)
bool probe_avx2() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool fma = (c >> 12) & 1u, osxsave = (c >> 27) & 1u, avx = (c >> 28) & 1u, f16c = (c >> 29) & 1u;
  if (!(fma && osxsave && avx && f16c)) return false;
  // The OS must save the YMM registers (XCR0 bits 1 and 2).
  unsigned xlo = 0, xhi = 0;
  __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  if ((xlo & 6u) != 6u) return false;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> 5) & 1u;  // AVX2
}
#else
bool probe_avx2() { return false; }
#endif

std::int64_t block_elems(TensorType t) { return tensor_type_traits(t).block_elements; }

mm::TileFn tile_kernel(TensorType t, MatmulIsa isa) {
#if defined(RAPIDE_MATMUL_AVX2)
  if (isa == MatmulIsa::Avx2) return mm::avx2_tile(t);
#endif
  (void)t;
  (void)isa;
  return nullptr;
}

QuantIsa quant_isa(MatmulIsa isa) { return isa == MatmulIsa::Avx2 ? QuantIsa::Avx2 : QuantIsa::Scalar; }

}  // namespace

bool cpu_has_avx2_fma_f16c() {
  static const bool has = probe_avx2();
  return has;
}

bool matmul_isa_available(MatmulIsa isa) {
  switch (isa) {
    case MatmulIsa::Scalar: return true;
    case MatmulIsa::Avx2:
#if defined(RAPIDE_MATMUL_AVX2)
      return cpu_has_avx2_fma_f16c() && quant_isa_available(QuantIsa::Avx2);
#else
      return false;
#endif
  }
  return false;
}

MatmulIsa matmul_best_isa() {
  static const MatmulIsa best = matmul_isa_available(MatmulIsa::Avx2) ? MatmulIsa::Avx2 : MatmulIsa::Scalar;
  return best;
}

const char* matmul_isa_name(MatmulIsa isa) { return isa == MatmulIsa::Avx2 ? "avx2" : "scalar"; }

bool matmul_int8_type(TensorType t) {
  switch (t) {
    case TensorType::Q8_0:
    case TensorType::Q4_0:
    case TensorType::Q4_1:  // no tile kernel: the quant library's row dot
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
      return true;
    default:
      return false;
  }
}

bool quantize_activations(ThreadPool& pool, TensorType weight_type, const float* x, std::int64_t n_tokens,
                          std::int64_t n_cols, std::vector<std::uint8_t>& act, std::size_t* act_row) {
  const TensorType at = vec_dot_activation_type(weight_type);
  const auto row = static_cast<std::size_t>(*tensor_row_bytes(at, static_cast<std::uint64_t>(n_cols)));
  *act_row = row;
  if (act.size() < row * static_cast<std::size_t>(n_tokens)) act.resize(row * static_cast<std::size_t>(n_tokens));
  std::atomic<bool> ok{true};
  pool.run(n_tokens, [&](std::int64_t t, int) {
    if (!quantize_row(at, x + t * n_cols, act.data() + static_cast<std::size_t>(t) * row, n_cols).ok())
      ok.store(false, std::memory_order_relaxed);
  }, n_tokens * n_cols * 4);
  return ok.load();
}

void matmul_int8(ThreadPool& pool, const WeightView& w, const std::uint8_t* act, std::size_t act_row,
                 std::int64_t n_tokens, float* y, MatmulIsa isa) {
  const std::int64_t n_rows = w.n_rows, n_cols = w.n_cols;
  if (n_tokens <= 0 || n_rows <= 0) return;
  const std::int64_t n_blocks = n_cols / block_elems(w.type);
  const mm::TileFn tile = tile_kernel(w.type, isa);
  const VecDotFn dot = vec_dot_function(w.type, quant_isa(isa));
  const std::int64_t n_groups = tile ? n_rows / 4 : 0;  // groups of 4 rows for the tile kernel
  const std::int64_t work = n_rows * n_cols * n_tokens;

  // Rows [4 * g0, 4 * g1) for tokens [t0, t1).
  auto groups = [&](std::int64_t g0, std::int64_t g1, std::int64_t t0, std::int64_t t1) {
    for (std::int64_t g = g0; g < g1; ++g) {
      mm::Tile tl{w.data + static_cast<std::size_t>(4 * g) * w.row_bytes, w.row_bytes,
                  act + static_cast<std::size_t>(t0) * act_row, act_row, n_blocks, y + t0 * n_rows + 4 * g, n_rows};
      tile(tl, static_cast<int>(t1 - t0));
    }
  };
  // Rows [r0, r1) one dot product per (row, token): the scalar path and the rows left over
  // from the groups of 4.
  auto rows_dot = [&](std::int64_t r0, std::int64_t r1, std::int64_t t0, std::int64_t t1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::uint8_t* row = w.data + static_cast<std::size_t>(r) * w.row_bytes;
      for (std::int64_t t = t0; t < t1; ++t) y[t * n_rows + r] = dot(row, act + static_cast<std::size_t>(t) * act_row, n_cols);
    }
  };

  if (!tile) {
    const std::int64_t chunk = std::max<std::int64_t>(1, (n_rows + 4 * pool.size() - 1) / (4 * pool.size()));
    pool.run((n_rows + chunk - 1) / chunk, [&](std::int64_t task, int) {
      rows_dot(task * chunk, std::min(n_rows, (task + 1) * chunk), 0, n_tokens);
    }, work);
    return;
  }
  // One token: row dots (gemv_int8_many).
  if (n_tokens == 1) {
    const Backend::MatmulOut out{&w, y};
    gemv_int8_many(pool, std::span<const Backend::MatmulOut>(&out, 1), act, isa);
    return;
  }

  if (n_tokens <= kGemvMaxTokens) {
    // One contiguous chunk of row groups per thread.
    const std::int64_t n_tasks = std::max<std::int64_t>(1, std::min<std::int64_t>(pool.size(), n_groups));
    pool.run(n_tasks, [&](std::int64_t task, int) {
      groups(task * n_groups / n_tasks, (task + 1) * n_groups / n_tasks, 0, n_tokens);
    }, work);
  } else {
    // Row panels that stay in L2, at least two per thread so a slow core does not hold the rest.
    std::int64_t panel = std::max<std::int64_t>(1, static_cast<std::int64_t>(kPanelBytes / (4 * w.row_bytes)));
    panel = std::min(panel, std::max<std::int64_t>(1, (n_groups + 2 * pool.size() - 1) / (2 * pool.size())));
    const std::int64_t n_tasks = (n_groups + panel - 1) / panel;
    pool.run(n_tasks, [&](std::int64_t task, int) {
      const std::int64_t g0 = task * panel, g1 = std::min(n_groups, g0 + panel);
      for (std::int64_t t0 = 0; t0 < n_tokens; t0 += kTileTokens) groups(g0, g1, t0, std::min(n_tokens, t0 + kTileTokens));
    }, work);
  }
  if (4 * n_groups < n_rows) rows_dot(4 * n_groups, n_rows, 0, n_tokens);
}

namespace {

// Rows [r0, r1) of w against one token: the row dot, with a software prefetch kGemvPrefetchBytes
// ahead of the row being read (up to `stream_end`, the end of what this thread reads of w). The
// hardware prefetcher alone left the two cores' streams at 12 GB/s where the machine reads 15-16
// (Q8_0 8960 x 1536 from DRAM, 2 threads, quiet machine, same run).
void gemv_rows(const WeightView& w, VecDotFn dot, const std::uint8_t* act, float* y, std::int64_t r0, std::int64_t r1) {
  // Byte offsets, so that no pointer is formed past the end of the weights.
  const std::size_t stream_end = static_cast<std::size_t>(r1) * w.row_bytes;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::size_t row = static_cast<std::size_t>(r) * w.row_bytes;
    const std::size_t ahead_end = std::min(row + kGemvPrefetchBytes + w.row_bytes, stream_end);
    for (std::size_t o = row + kGemvPrefetchBytes; o < ahead_end; o += 64) __builtin_prefetch(w.data + o, 0, 3);
    y[r] = dot(w.data + row, act, w.n_cols);
  }
}

}  // namespace

void gemv_int8_many(ThreadPool& pool, std::span<const Backend::MatmulOut> outs, const std::uint8_t* act, MatmulIsa isa) {
  std::int64_t total = 0, work = 0;
  for (const Backend::MatmulOut& o : outs) {
    total += o.w->n_rows;
    work += o.w->n_rows * o.w->n_cols;
  }
  if (total <= 0) return;
  // The row dot, one contiguous range of the concatenated rows per thread. The 4-row tile has
  // nothing to share with one token and measured slower on a quiet machine (1.5B Q8_0 decode,
  // 2 threads: 6.9 tok/s with the tile, 8.2-9.0 with the row dot).
  const std::int64_t n_tasks = std::max<std::int64_t>(1, std::min<std::int64_t>(pool.size(), total));
  pool.run(n_tasks, [&](std::int64_t task, int) {
    const std::int64_t lo = task * total / n_tasks, hi = (task + 1) * total / n_tasks;
    std::int64_t base = 0;
    for (const Backend::MatmulOut& o : outs) {
      const std::int64_t r0 = std::max<std::int64_t>(lo - base, 0), r1 = std::min<std::int64_t>(hi - base, o.w->n_rows);
      if (r0 < r1) gemv_rows(*o.w, vec_dot_function(o.w->type, quant_isa(isa)), act, o.y, r0, r1);
      base += o.w->n_rows;
    }
  }, work);
}

std::size_t matmul_float_scratch(std::int64_t n_cols) {
  return static_cast<std::size_t>(std::max<std::int64_t>(kFloatRows * n_cols, 4096));
}

void matmul_float(ThreadPool& pool, const WeightView& w, const float* x, std::int64_t n_tokens, float* y,
                  std::vector<std::vector<float>>& scratch) {
  const std::int64_t n_rows = w.n_rows, n_cols = w.n_cols;
  if (n_tokens <= 0 || n_rows <= 0) return;
  const std::int64_t n_tasks = (n_rows + kFloatRows - 1) / kFloatRows;
  const bool plain = w.type == TensorType::F32;
  [[maybe_unused]] const bool avx2 = plain && matmul_isa_available(MatmulIsa::Avx2) && w.row_bytes % sizeof(float) == 0;
  // F16/BF16 rows: the quant library's float-activation dots (F16C/FMA when available).
  const bool half = w.type == TensorType::F16 || w.type == TensorType::BF16;
  const VecDotFn half_dot = half ? vec_dot_function(w.type) : nullptr;
  const std::size_t need = matmul_float_scratch(n_cols);
  if (!plain && !half_dot)
    for (auto& s : scratch)
      if (s.size() < need) s.assign(need, 0.0f);
  pool.run(n_tasks, [&](std::int64_t task, int thread) {
    const std::int64_t r0 = task * kFloatRows;
    const std::int64_t r1 = std::min(n_rows, r0 + kFloatRows);
    if (half_dot) {
      for (std::int64_t t0 = 0; t0 < n_tokens; t0 += kFloatTokens) {
        const std::int64_t t1 = std::min(n_tokens, t0 + kFloatTokens);
        for (std::int64_t r = r0; r < r1; ++r) {
          const std::uint8_t* row = w.data + static_cast<std::size_t>(r) * w.row_bytes;
          for (std::int64_t t = t0; t < t1; ++t) y[t * n_rows + r] = half_dot(row, x + t * n_cols, n_cols);
        }
      }
      return;
    }
#if defined(RAPIDE_MATMUL_AVX2)
    if (plain && avx2) {
      const auto* wf = reinterpret_cast<const float*>(w.data + static_cast<std::size_t>(r0) * w.row_bytes);
      const std::size_t stride = w.row_bytes / sizeof(float);
      for (std::int64_t t0 = 0; t0 < n_tokens; t0 += mm::kF32TileTokens) {
        const auto nt = static_cast<int>(std::min<std::int64_t>(mm::kF32TileTokens, n_tokens - t0));
        for (std::int64_t r = r0; r < r1; r += mm::kF32TileRows) {
          const auto nr = static_cast<int>(std::min<std::int64_t>(mm::kF32TileRows, r1 - r));
          const mm::F32Tile tile{wf + static_cast<std::size_t>(r - r0) * stride, stride, x + t0 * n_cols,
                                 static_cast<std::size_t>(n_cols), n_cols, y + t0 * n_rows + r, n_rows};
          mm::avx2_f32_tile(tile, nr, nt);
        }
      }
      return;
    }
#endif
    float* rows = plain ? nullptr : scratch[static_cast<std::size_t>(thread)].data();
    const float* wr[kFloatRows];
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::uint8_t* src = w.data + static_cast<std::size_t>(r) * w.row_bytes;
      if (plain) {
        wr[r - r0] = reinterpret_cast<const float*>(src);
      } else {
        float* dst = rows + (r - r0) * n_cols;
        dequantize_weight_row(w.type, src, dst, n_cols);
        wr[r - r0] = dst;
      }
    }
    for (std::int64_t t0 = 0; t0 < n_tokens; t0 += kFloatTokens) {
      const std::int64_t t1 = std::min(n_tokens, t0 + kFloatTokens);
      for (std::int64_t r = r0; r < r1; ++r)
        for (std::int64_t t = t0; t < t1; ++t) y[t * n_rows + r] = dot_f32(wr[r - r0], x + t * n_cols, n_cols);
    }
  }, n_rows * n_cols * n_tokens);
}

}  // namespace rapide::inference::cpu
