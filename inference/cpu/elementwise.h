// Element-wise inner loops of the CPU backend's non-matmul ops, with an AVX2+FMA path chosen at
// run time and a scalar fallback. Each works on a contiguous span; the backend splits spans across
// its threads.
#pragma once

#include <cstdint>

namespace rapide::inference::cpu {

// out[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i]. out may alias gate or up.
// The AVX2 path uses a polynomial exp (relative error ~2e-7, like ggml's vectorised silu).
void swiglu_span(const float* gate, const float* up, float* out, std::int64_t n);

}  // namespace rapide::inference::cpu
