// Mixture-of-experts gating maths shared by the backends and the tests' naive reference:
// softmax over the router logits, the top-k experts (ties: lower index first, like a stable
// sort), and optional renormalisation of the k weights to sum 1 (llama.cpp's build_moe_ffn with
// the softmax gating function).
#pragma once

#include "rapide/inference/hd.h"

#include <cmath>
#include <cstdint>

namespace rapide::inference {

// probs[0..n) = softmax(logits[0..n)); then ids[0..k) / weights[0..k) = the k largest probs in
// descending order, renormalised when `normalize`. probs is scratch of n floats.
RAPIDE_HD void moe_route(const float* logits, int n_expert, int k, bool normalize, float* probs, std::int32_t* ids,
                         float* weights) {
  float mx = logits[0];
  for (int e = 1; e < n_expert; ++e) mx = logits[e] > mx ? logits[e] : mx;
  float sum = 0.0f;
  for (int e = 0; e < n_expert; ++e) {
    probs[e] = expf(logits[e] - mx);
    sum += probs[e];
  }
  for (int e = 0; e < n_expert; ++e) probs[e] /= sum;
  for (int j = 0; j < k; ++j) {
    int best = -1;
    for (int e = 0; e < n_expert; ++e) {
      bool taken = false;
      for (int i = 0; i < j; ++i) taken = taken || ids[i] == e;
      if (!taken && (best < 0 || probs[e] > probs[best])) best = e;
    }
    ids[j] = best;
    weights[j] = probs[best];
  }
  if (normalize) {
    float s = 0.0f;
    for (int j = 0; j < k; ++j) s += weights[j];
    for (int j = 0; j < k; ++j) weights[j] /= s;
  }
}

}  // namespace rapide::inference
