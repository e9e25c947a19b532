// quantize_model: rewrites a GGUF model with its weights in another format (`rapide quantize`),
// as llama-quantize does: every key-value pair is copied (general.file_type and
// general.quantization_version updated), every tensor keeps its name, shape and order, and each
// tensor's type is chosen by choose_tensor_type() (make_model.h) from the format, the tensor's
// name and shape, the model's block and expert counts and whether the output head is tied. So
// norms, biases and the MoE router stay F32, Q4_K_M gets llama.cpp's mix, and rows that do not
// hold whole blocks fall back (Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0, then F16).
//
// Sources: F32, F16 and BF16 tensors are converted directly; tensors already in a block format
// are copied unchanged when the chosen type is their own, and re-quantized (dequantize, then
// quantize: quality is lost twice) only with allow_requantize, else an error names the tensor.
// Tensors are streamed row chunk by row chunk over n_threads threads; the output is written to
// OUT.partial and renamed, so a failure never leaves a half file under OUT. OUT must differ from
// the input.
#pragma once

#include "rapide/inference/make_model.h"
#include "rapide/inference/result.h"

#include <cstdint>
#include <filesystem>

namespace rapide::inference {

struct QuantizeOptions {
  std::filesystem::path input;
  std::filesystem::path output;
  WeightFormat format;
  bool allow_requantize = false;
  int n_threads = 0;  // 0: hardware concurrency
};

struct QuantizeReport {
  std::uint64_t tensors = 0;
  std::uint64_t converted = 0;    // tensors whose type changed
  std::uint64_t input_bytes = 0;  // tensor data, before and after
  std::uint64_t output_bytes = 0;
  std::uint64_t file_bytes = 0;
  double seconds = 0;
};

Result<QuantizeReport> quantize_model(const QuantizeOptions& options);

}  // namespace rapide::inference
