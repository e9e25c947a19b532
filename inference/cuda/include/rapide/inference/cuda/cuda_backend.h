// The CUDA backend as seen from plain C++ (no CUDA headers): a rapide::inference::Backend whose
// buffers, weights and KV caches live in the memory of one NVIDIA GPU. The forward pass
// (inference/model/) drives it exactly like the CPU backend; tests compare the two op by op.
//
// Safe to call on a machine without a GPU or driver: make_cuda_backend() then returns an error
// saying why, and nothing else is touched.
#pragma once

#include "rapide/inference/backend.h"
#include "rapide/inference/result.h"

#include <memory>

namespace rapide::inference::cuda {

// A backend on CUDA device `device_index` (0-based, as in "cuda:N"). Errors: no driver/device,
// index out of range, cuBLAS initialisation failure. opts.n_threads is ignored.
Result<std::unique_ptr<Backend>> make_cuda_backend(int device_index, const BackendOptions& opts);

// Registers make_cuda_backend for the device prefix "cuda" (see register_device_backend in
// backend.h), so Model::load accepts "cuda", "cuda:N" and considers cuda:0 for "auto". Call once
// at start-up (the CLI's main, the CUDA tests); safe without a device.
void register_cuda_backend();

// Copies n host floats into memory of a CUDA backend (a Buffer's data()), synchronously. For
// tests and tools: the forward pass never needs it. Errors: not a CUDA backend, copy failure.
Status copy_from_host(Backend& backend, const float* host_src, float* dst, std::size_t n);

}  // namespace rapide::inference::cuda
