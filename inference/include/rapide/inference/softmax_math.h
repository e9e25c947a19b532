// Softmax and activation maths shared by the CPU and CUDA backends (RAPIDE_HD, see hd.h), so the
// CPU test suite covers the arithmetic the attention and SwiGLU kernels run.
//
// Online softmax (flash attention): a row's scores arrive in blocks. The running state is the
// max m seen so far and the denominator l = sum exp(s - m); the output accumulator holds
// sum exp(s - m) * v. Folding in a block whose max is block_max moves m to max(m, block_max) and
// multiplies l and the accumulator by exp(m_old - m_new) before adding the block's terms.
// Split-K (flash decoding) merges partial states (m_i, l_i, acc_i) with weights exp(m_i - M),
// M = max m_i. An empty state has m = -inf and l = 0 and gets weight 0.
#pragma once

#include "rapide/inference/hd.h"

#include <cmath>

namespace rapide::inference {

// Moves the running max *m to max(*m, block_max) and returns the factor for the old l and
// accumulator: exp(m_old - m_new), 1 when the max did not grow, 0 when nothing was accumulated
// yet (m_old = -inf).
RAPIDE_HD float online_softmax_update(float* m, float block_max) {
  const float m_old = *m;
  if (!(block_max > m_old)) return 1.0f;
  *m = block_max;
  return m_old == -HUGE_VALF ? 0.0f : expf(m_old - block_max);
}

// Weight of a partial state with max m_i when merging into the common max m_all (>= m_i).
RAPIDE_HD float online_softmax_merge_weight(float m_i, float m_all) {
  return m_i == -HUGE_VALF ? 0.0f : expf(m_i - m_all);
}

// silu(x) = x * sigmoid(x) = x / (1 + exp(-x)), the SwiGLU gate activation.
RAPIDE_HD float silu(float x) { return x / (1.0f + expf(-x)); }

}  // namespace rapide::inference
