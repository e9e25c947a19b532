// GGUF writer: builds a llama.cpp model file (GGUF v3 by default) from metadata and tensors.
//
// The writer owns every string it is given (values copied from a GgufFile included), so the
// source file may be closed before write(). Tensor bytes are not held by the writer: each tensor
// is either a borrowed span (which must stay valid until write() returns) or a producer callback
// that emits the bytes in chunks at write time, so a multi-GB model is streamed to disk holding
// one chunk at a time.
//
// Layout written (the reader's layout, see gguf.h): header, metadata in insertion order, tensor
// infos in insertion order, padding to the alignment, then each tensor's data at an offset that
// is a multiple of the alignment, padded with zeros to the next multiple. The alignment is
// `general.alignment` when set (a uint32 power of two), else 32, as llama.cpp does.
//
// Errors (returned, never thrown): duplicate tensor names, bad shapes (> 4 dims, negative dims,
// a row length that is not a multiple of the type's block size), a producer emitting the wrong
// number of bytes, a bad general.alignment, nested arrays, and I/O failures. Not thread-safe;
// one writer is used by one thread.
#pragma once

#include "rapide/inference/gguf.h"
#include "rapide/inference/result.h"
#include "rapide/inference/tensor_type.h"

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::inference::gguf {

// Where each section of a written file starts (byte offsets from the start of the file).
// Returned by write() so tests can corrupt a file at exact section boundaries.
struct WriteLayout {
  std::uint64_t header_end = 0;                 // after magic, version and the two counts
  std::vector<std::uint64_t> kv_offsets;        // start of each key-value pair
  std::vector<std::uint64_t> tensor_info_offsets;  // start of each tensor info
  std::uint64_t tensor_infos_end = 0;           // after the last tensor info (padding follows)
  std::uint64_t data_offset = 0;                // start of the data section
  std::vector<std::uint64_t> tensor_data_offsets;  // absolute file offset of each tensor's bytes
  std::uint64_t file_bytes = 0;
};

// Receives a tensor's bytes, in order, in chunks of any size.
using ByteSink = std::function<Status(std::span<const std::uint8_t>)>;
// Produces one tensor's bytes by calling the sink as many times as it likes; the total must
// equal the tensor's byte size.
using TensorProducer = std::function<Status(const ByteSink& emit)>;

class GgufWriter {
 public:
  explicit GgufWriter(std::uint32_t version = 3);

  // ---- metadata. Setting an existing key replaces its value (keeping its position). ----
  void set_uint8(std::string_view key, std::uint8_t v);
  void set_int8(std::string_view key, std::int8_t v);
  void set_uint16(std::string_view key, std::uint16_t v);
  void set_int16(std::string_view key, std::int16_t v);
  void set_uint32(std::string_view key, std::uint32_t v);
  void set_int32(std::string_view key, std::int32_t v);
  void set_uint64(std::string_view key, std::uint64_t v);
  void set_int64(std::string_view key, std::int64_t v);
  void set_float32(std::string_view key, float v);
  void set_float64(std::string_view key, double v);
  void set_bool(std::string_view key, bool v);
  void set_string(std::string_view key, std::string_view v);
  void set_string_array(std::string_view key, const std::vector<std::string>& items);
  // Any value (an array included), deep-copied: strings are copied into the writer.
  void set_value(std::string_view key, const Value& v);
  // Copies every key of `src` whose name starts with `prefix` ("" = all), e.g. "tokenizer.".
  void copy_metadata(const GgufFile& src, std::string_view prefix = "");
  bool remove(std::string_view key);  // false when absent
  const Value* find(std::string_view key) const;
  std::size_t metadata_count() const { return kvs_.size(); }

  // ---- tensors, in file order. dims are ggml order (dims[0] = row length). ----
  // `bytes` is borrowed until write() returns.
  Status add_tensor(std::string_view name, TensorType type, std::vector<std::int64_t> dims,
                    std::span<const std::uint8_t> bytes);
  Status add_tensor(std::string_view name, TensorType type, std::vector<std::int64_t> dims,
                    TensorProducer producer);
  std::size_t tensor_count() const { return tensors_.size(); }

  // Writes the file (to `path` + ".partial", renamed over `path` once complete, so a failed
  // write never leaves a half file under the final name).
  Result<WriteLayout> write(const std::filesystem::path& path) const;
  // The same bytes, in memory (for tests and fuzz seeds).
  Result<std::vector<std::uint8_t>> write_to_memory(WriteLayout* layout = nullptr) const;

 private:
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<std::int64_t> dims;
    std::uint64_t n_bytes = 0;
    std::span<const std::uint8_t> bytes;
    TensorProducer producer;
  };
  struct Entry {
    std::string_view key;  // into strings_
    Value value;           // strings point into strings_
  };

  std::string_view intern(std::string_view s);
  Value deep_copy(const Value& v);
  void set(std::string_view key, Value v);
  Result<std::uint64_t> alignment() const;
  Result<std::uint64_t> check_tensor(std::string_view name, TensorType type, const std::vector<std::int64_t>& dims) const;
  Result<WriteLayout> write_all(const ByteSink& out) const;

  std::uint32_t version_;
  std::deque<std::string> strings_;  // stable addresses for the views in entries_
  std::vector<Entry> kvs_;
  std::vector<Tensor> tensors_;
};

}  // namespace rapide::inference::gguf
