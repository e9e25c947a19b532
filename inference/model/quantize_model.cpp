// quantize_model: see rapide/inference/quantize_model.h.
#include "rapide/inference/quantize_model.h"

#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_writer.h"
#include "rapide/inference/quant.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace rapide::inference {
namespace {

// Elements converted per chunk (the chunk's rows are shared among the threads).
constexpr std::uint64_t kChunkElements = std::uint64_t{1} << 22;

bool is_float_type(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

// Converts one tensor's rows from `src_type` to `dst_type`, chunk by chunk, and emits them.
Status convert_tensor(const gguf::TensorInfo& t, std::span<const std::uint8_t> src, TensorType dst_type, int n_threads,
                      const gguf::ByteSink& emit) {
  const std::uint64_t row_len = static_cast<std::uint64_t>(t.dims[0]);
  const std::uint64_t n_rows = t.n_rows();
  if (n_rows == 0) return {};
  const std::uint64_t src_row = src.size() / n_rows;
  const std::uint64_t dst_row = *tensor_row_bytes(dst_type, row_len);
  const std::uint64_t rows_per_chunk = std::max<std::uint64_t>(1, kChunkElements / row_len);
  std::vector<std::uint8_t> out;
  for (std::uint64_t row0 = 0; row0 < n_rows; row0 += rows_per_chunk) {
    const std::uint64_t rows = std::min(rows_per_chunk, n_rows - row0);
    out.resize(static_cast<std::size_t>(rows * dst_row));
    std::atomic<std::uint64_t> next{0};
    std::mutex error_mutex;
    std::string first_error;
    auto worker = [&] {
      std::vector<float> values(static_cast<std::size_t>(row_len));
      for (std::uint64_t r = next++; r < rows; r = next++) {
        const std::uint8_t* in = src.data() + (row0 + r) * src_row;
        Status st = dequantize_row(t.type, in, values.data(), static_cast<std::int64_t>(row_len));
        if (st) st = quantize_row(dst_type, values.data(), out.data() + r * dst_row, static_cast<std::int64_t>(row_len));
        if (!st) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (first_error.empty())
            first_error = "row " + std::to_string(row0 + r) + ": " + std::string(st.message());
          return;
        }
      }
    };
    const int threads = static_cast<int>(std::min<std::uint64_t>(static_cast<std::uint64_t>(n_threads), rows));
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
    worker();
    for (std::thread& th : pool) th.join();
    if (!first_error.empty())
      return error("tensor '", t.name, "': converting ", tensor_type_traits(t.type).name, " to ",
                   tensor_type_traits(dst_type).name, ": ", first_error);
    if (Status s = emit(out); !s) return s;
  }
  return {};
}

}  // namespace

Result<QuantizeReport> quantize_model(const QuantizeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  if (std::filesystem::exists(options.output, ec) && std::filesystem::equivalent(options.input, options.output, ec))
    return error("the output '", options.output.string(), "' is the input file: write to another path");
  auto file = gguf::GgufFile::open(options.input);
  if (!file) return file.error();
  const gguf::GgufFile& in = **file;
  const std::string arch(in.architecture());
  if (arch.empty()) return error("'", options.input.string(), "' has no general.architecture: not a model file");
  const auto n_layer = static_cast<std::int64_t>(in.get_uint(arch + ".block_count").value_or(0));
  const auto n_expert = static_cast<std::int64_t>(in.get_uint(arch + ".expert_count").value_or(0));
  const bool tied = in.find_tensor("output.weight") == nullptr;
  const int n_threads =
      options.n_threads > 0 ? options.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  gguf::GgufWriter w;
  w.copy_metadata(in);
  w.set_uint32("general.file_type", file_type_id(options.format));
  if (!is_float_type(options.format.type) || options.format.q4_k_m) w.set_uint32("general.quantization_version", 2);
  else w.remove("general.quantization_version");

  QuantizeReport report;
  for (const gguf::TensorInfo& t : in.tensors()) {
    const TensorType want = t.dims.empty()
                                ? t.type
                                : choose_tensor_type(options.format, t.name, t.dims, n_layer, n_expert, tied);
    const std::span<const std::uint8_t> bytes = in.tensor_data(t);
    ++report.tensors;
    report.input_bytes += t.n_bytes;
    // Non-weights keep their type (a norm stored as F16 stays F16), like llama-quantize.
    const bool keep = want == t.type || (want == TensorType::F32 && t.type != TensorType::F32 && is_float_type(t.type));
    if (keep) {
      report.output_bytes += t.n_bytes;
      if (Status s = w.add_tensor(t.name, t.type, t.dims, bytes); !s) return s.error();
      continue;
    }
    if (!quant_supported(t.type))
      return error("tensor '", t.name, "' is ", tensor_type_traits(t.type).name, ", which cannot be read for conversion");
    if (!quant_supported(want))
      return error("tensor '", t.name, "': type ", tensor_type_traits(want).name, " cannot be produced");
    if (!is_float_type(t.type) && !options.allow_requantize)
      return error("tensor '", t.name, "' is already quantized (", tensor_type_traits(t.type).name, "); converting it to ",
                   tensor_type_traits(want).name, " loses quality twice: start from an F16/F32 file or pass --allow-requantize");
    ++report.converted;
    report.output_bytes += *tensor_row_bytes(want, static_cast<std::uint64_t>(t.dims[0])) * t.n_rows();
    const gguf::TensorInfo* tp = &t;
    if (Status s = w.add_tensor(t.name, want, t.dims,
                                [tp, bytes, want, n_threads](const gguf::ByteSink& emit) {
                                  return convert_tensor(*tp, bytes, want, n_threads, emit);
                                });
        !s)
      return s.error();
  }
  auto layout = w.write(options.output);
  if (!layout) return layout.error();
  report.file_bytes = layout->file_bytes;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace rapide::inference
