// GGUF reader: opens a llama.cpp model file (v2 or v3) by mmap and exposes its metadata,
// tensor table and tensor bytes as views into the mapping.
//
// Hardening: every count, length, offset and product read from the file is checked against the
// bytes actually present (with overflow checks) before it is used, and nothing is allocated from
// an unchecked field. A corrupt or truncated file is rejected with the byte offset and the
// reason; the reader never crashes on bad input.
//
// Ownership: a GgufFile owns its mapping (or the buffer handed to parse()); every string_view and
// span it returns stays valid as long as the GgufFile lives. A GgufFile is immutable after
// opening, so any number of threads may read it. Share it with std::shared_ptr<const GgufFile>.
#pragma once

#include "rapide/inference/result.h"
#include "rapide/inference/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::inference::gguf {

// Metadata value types, with GGUF's ids.
enum class ValueType : std::uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

std::string_view value_type_name(ValueType t);  // "uint32", "string", "array", ...

// One metadata value. Scalars are kept in their widest form along with the stored type; strings
// are views into the file; arrays hold their elements (all of one type).
class Value {
 public:
  ValueType type() const { return type_; }

  // Integer access: any integer type (and bool) whose value fits the requested type.
  std::optional<std::uint64_t> as_uint() const;
  std::optional<std::int64_t> as_int() const;
  // Float access: FLOAT32/FLOAT64 (and integers, converted).
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  std::optional<std::string_view> as_string() const;

  // Arrays (type() == ARRAY). array_type() is the element type.
  ValueType array_type() const { return array_type_; }
  std::span<const Value> array() const { return items_; }

  // Builders, for readers and for tests.
  static Value make_uint(ValueType t, std::uint64_t v);
  static Value make_int(ValueType t, std::int64_t v);
  static Value make_float(ValueType t, double v);
  static Value make_bool(bool v);
  static Value make_string(std::string_view v);  // the view must outlive the Value
  static Value make_array(ValueType element_type, std::vector<Value> items);

 private:
  ValueType type_ = ValueType::UINT8;
  ValueType array_type_ = ValueType::UINT8;
  std::uint64_t u_ = 0;
  std::int64_t i_ = 0;
  double f_ = 0;
  std::string_view s_;
  std::vector<Value> items_;
};

struct KeyValue {
  std::string_view key;
  Value value;
};

struct TensorInfo {
  std::string_view name;
  TensorType type = TensorType::F32;
  std::vector<std::int64_t> dims;  // ggml order: dims[0] is the row length (fastest varying)
  std::uint64_t offset = 0;        // from the start of the data section
  std::uint64_t n_elements = 0;
  std::uint64_t n_bytes = 0;
  std::uint64_t n_rows() const { return dims.empty() || dims[0] == 0 ? 0 : n_elements / static_cast<std::uint64_t>(dims[0]); }
};

class GgufFile {
 public:
  // Maps and parses a file.
  static Result<std::shared_ptr<const GgufFile>> open(const std::filesystem::path& path);
  // Parses bytes held in memory (copied into the GgufFile). For tests and fuzzing.
  static Result<std::shared_ptr<const GgufFile>> parse(std::span<const std::uint8_t> bytes,
                                                       std::string source_name = "<memory>");

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& source_name() const { return source_; }
  std::uint32_t version() const { return version_; }
  std::uint64_t alignment() const { return alignment_; }
  std::uint64_t data_offset() const { return data_offset_; }  // byte offset of the data section
  std::uint64_t file_bytes() const { return size_; }

  std::span<const KeyValue> metadata() const { return kvs_; }
  const Value* find(std::string_view key) const;  // nullptr when absent

  // Typed getters: nullopt when the key is absent or holds another type.
  std::optional<std::string_view> get_string(std::string_view key) const;
  std::optional<std::uint64_t> get_uint(std::string_view key) const;
  std::optional<std::int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  // general.architecture, or "" when absent.
  std::string_view architecture() const;

  std::span<const TensorInfo> tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;  // nullptr when absent
  // The tensor's bytes (n_bytes of them), a view into the mapping; 64-byte aligned when the
  // file's alignment is (the mapping itself is page aligned).
  std::span<const std::uint8_t> tensor_data(const TensorInfo& t) const;
  std::uint64_t tensor_data_bytes() const;  // sum of n_bytes over all tensors

 private:
  GgufFile() = default;
  Status parse_all();

  std::string source_;
  const std::uint8_t* data_ = nullptr;
  std::uint64_t size_ = 0;
  void* mapping_ = nullptr;            // mmap base when mapped
  std::vector<std::uint8_t> buffer_;  // owned copy when parsed from memory
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = 32;
  std::uint64_t data_offset_ = 0;
  std::vector<KeyValue> kvs_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace rapide::inference::gguf
