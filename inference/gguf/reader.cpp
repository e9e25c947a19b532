// GGUF parsing. Layout (little-endian), per the GGUF spec:
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x { string key | u32 type | value }        string = u64 length + bytes
//   n_tensors x { string name | u32 n_dims | n_dims x i64 dim | u32 type | u64 offset }
//   padding to general.alignment (default 32) | tensor data (each tensor at its aligned offset)
// Every read goes through Cursor, which checks the bytes left before touching memory.
#include "rapide/inference/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace rapide::inference::gguf {
namespace {

constexpr std::uint32_t kMaxDims = 4;          // GGML_MAX_DIMS
constexpr std::uint64_t kMaxStringBytes = 1u << 30;

std::string hex_offset(std::uint64_t off) { return std::to_string(off); }

class Cursor {
 public:
  Cursor(const std::uint8_t* data, std::uint64_t size) : data_(data), size_(size) {}
  std::uint64_t pos() const { return pos_; }
  std::uint64_t left() const { return size_ - pos_; }

  template <class T>
  Result<T> read(const char* what) {
    if (left() < sizeof(T))
      return error("offset ", hex_offset(pos_), ": file ends while reading ", what, " (", sizeof(T), " bytes needed, ",
                   left(), " left): truncated file?");
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  Result<std::string_view> read_string(const char* what) {
    const std::uint64_t at = pos_;
    auto len = read<std::uint64_t>(what);
    if (!len) return len.error();
    if (*len > left())
      return error("offset ", hex_offset(at), ": ", what, " length ", *len, " exceeds the ", left(),
                   " bytes left in the file: corrupt or truncated file?");
    if (*len > kMaxStringBytes)
      return error("offset ", hex_offset(at), ": ", what, " length ", *len, " exceeds the limit of ", kMaxStringBytes,
                   " bytes: corrupt file?");
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<std::size_t>(*len));
    pos_ += *len;
    return s;
  }

 private:
  const std::uint8_t* data_;
  std::uint64_t size_;
  std::uint64_t pos_ = 0;
};

bool valid_value_type(std::uint32_t t) { return t <= static_cast<std::uint32_t>(ValueType::FLOAT64); }

// Smallest encoded size of one value of a type, used to bound array counts before allocating.
std::uint64_t min_encoded_bytes(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL: return 1;
    case ValueType::UINT16:
    case ValueType::INT16: return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32: return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
    case ValueType::STRING: return 8;
    case ValueType::ARRAY: return 12;
  }
  return 1;
}

Result<Value> read_value(Cursor& c, ValueType type, int depth, std::string_view key) {
  switch (type) {
    case ValueType::UINT8: { auto v = c.read<std::uint8_t>("uint8 value"); if (!v) return v.error(); return Value::make_uint(type, *v); }
    case ValueType::UINT16: { auto v = c.read<std::uint16_t>("uint16 value"); if (!v) return v.error(); return Value::make_uint(type, *v); }
    case ValueType::UINT32: { auto v = c.read<std::uint32_t>("uint32 value"); if (!v) return v.error(); return Value::make_uint(type, *v); }
    case ValueType::UINT64: { auto v = c.read<std::uint64_t>("uint64 value"); if (!v) return v.error(); return Value::make_uint(type, *v); }
    case ValueType::INT8: { auto v = c.read<std::int8_t>("int8 value"); if (!v) return v.error(); return Value::make_int(type, *v); }
    case ValueType::INT16: { auto v = c.read<std::int16_t>("int16 value"); if (!v) return v.error(); return Value::make_int(type, *v); }
    case ValueType::INT32: { auto v = c.read<std::int32_t>("int32 value"); if (!v) return v.error(); return Value::make_int(type, *v); }
    case ValueType::INT64: { auto v = c.read<std::int64_t>("int64 value"); if (!v) return v.error(); return Value::make_int(type, *v); }
    case ValueType::FLOAT32: { auto v = c.read<float>("float32 value"); if (!v) return v.error(); return Value::make_float(type, *v); }
    case ValueType::FLOAT64: { auto v = c.read<double>("float64 value"); if (!v) return v.error(); return Value::make_float(type, *v); }
    case ValueType::BOOL: {
      const std::uint64_t at = c.pos();
      auto v = c.read<std::uint8_t>("bool value");
      if (!v) return v.error();
      if (*v > 1) return error("offset ", at, ": key '", key, "': bool value ", *v, " is neither 0 nor 1");
      return Value::make_bool(*v != 0);
    }
    case ValueType::STRING: {
      auto s = c.read_string("string value");
      if (!s) return s.error();
      return Value::make_string(*s);
    }
    case ValueType::ARRAY: {
      const std::uint64_t at = c.pos();
      auto et = c.read<std::uint32_t>("array element type");
      if (!et) return et.error();
      if (!valid_value_type(*et)) return error("offset ", at, ": key '", key, "': unknown array element type ", *et);
      // llama.cpp rejects arrays of arrays; so do we (depth stays 0 or 1).
      if (static_cast<ValueType>(*et) == ValueType::ARRAY || depth > 0)
        return error("offset ", at, ": key '", key, "': arrays of arrays are not supported (llama.cpp rejects them too)");
      auto n = c.read<std::uint64_t>("array length");
      if (!n) return n.error();
      const ValueType elem = static_cast<ValueType>(*et);
      if (*n > c.left() / min_encoded_bytes(elem))
        return error("offset ", at, ": key '", key, "': array of ", *n, " ", value_type_name(elem), " values cannot fit in the ",
                     c.left(), " bytes left: corrupt or truncated file?");
      std::vector<Value> items;
      items.reserve(static_cast<std::size_t>(*n));
      for (std::uint64_t i = 0; i < *n; ++i) {
        auto v = read_value(c, elem, depth + 1, key);
        if (!v) return v.error();
        items.push_back(std::move(*v));
      }
      return Value::make_array(elem, std::move(items));
    }
  }
  return error("unknown value type");
}

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

}  // namespace

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "uint8";
    case ValueType::INT8: return "int8";
    case ValueType::UINT16: return "uint16";
    case ValueType::INT16: return "int16";
    case ValueType::UINT32: return "uint32";
    case ValueType::INT32: return "int32";
    case ValueType::FLOAT32: return "float32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "uint64";
    case ValueType::INT64: return "int64";
    case ValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

// ---- Value --------------------------------------------------------------------------------

Value Value::make_uint(ValueType t, std::uint64_t v) {
  Value x;
  x.type_ = t;
  x.u_ = v;
  return x;
}
Value Value::make_int(ValueType t, std::int64_t v) {
  Value x;
  x.type_ = t;
  x.i_ = v;
  return x;
}
Value Value::make_float(ValueType t, double v) {
  Value x;
  x.type_ = t;
  x.f_ = v;
  return x;
}
Value Value::make_bool(bool v) {
  Value x;
  x.type_ = ValueType::BOOL;
  x.u_ = v ? 1 : 0;
  return x;
}
Value Value::make_string(std::string_view v) {
  Value x;
  x.type_ = ValueType::STRING;
  x.s_ = v;
  return x;
}
Value Value::make_array(ValueType element_type, std::vector<Value> items) {
  Value x;
  x.type_ = ValueType::ARRAY;
  x.array_type_ = element_type;
  x.items_ = std::move(items);
  return x;
}

std::optional<std::uint64_t> Value::as_uint() const {
  switch (type_) {
    case ValueType::UINT8:
    case ValueType::UINT16:
    case ValueType::UINT32:
    case ValueType::UINT64:
    case ValueType::BOOL: return u_;
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64:
      if (i_ < 0) return std::nullopt;
      return static_cast<std::uint64_t>(i_);
    default: return std::nullopt;
  }
}

std::optional<std::int64_t> Value::as_int() const {
  switch (type_) {
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64: return i_;
    case ValueType::UINT8:
    case ValueType::UINT16:
    case ValueType::UINT32:
    case ValueType::UINT64:
    case ValueType::BOOL:
      if (u_ > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
      return static_cast<std::int64_t>(u_);
    default: return std::nullopt;
  }
}

std::optional<double> Value::as_float() const {
  if (type_ == ValueType::FLOAT32 || type_ == ValueType::FLOAT64) return f_;
  if (auto i = as_int()) return static_cast<double>(*i);
  if (auto u = as_uint()) return static_cast<double>(*u);
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (type_ == ValueType::BOOL) return u_ != 0;
  return std::nullopt;
}

std::optional<std::string_view> Value::as_string() const {
  if (type_ == ValueType::STRING) return s_;
  return std::nullopt;
}

// ---- GgufFile -----------------------------------------------------------------------------

GgufFile::~GgufFile() {
  if (mapping_) munmap(mapping_, static_cast<std::size_t>(size_));
}

Result<std::shared_ptr<const GgufFile>> GgufFile::open(const std::filesystem::path& path) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error("cannot open '", name, "': ", std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return error("cannot stat '", name, "': ", std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error("'", name, "' is not a regular file");
  }
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->source_ = name;
  f->size_ = static_cast<std::uint64_t>(st.st_size);
  if (f->size_ > 0) {
    void* m = mmap(nullptr, static_cast<std::size_t>(f->size_), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      return error("cannot mmap '", name, "': ", std::strerror(e));
    }
    f->mapping_ = m;
    f->data_ = static_cast<const std::uint8_t*>(m);
  }
  ::close(fd);
  if (Status s = f->parse_all(); !s) return error("'", name, "': ", s.message());
  return std::shared_ptr<const GgufFile>(std::move(f));
}

Result<std::shared_ptr<const GgufFile>> GgufFile::parse(std::span<const std::uint8_t> bytes, std::string source_name) {
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->source_ = std::move(source_name);
  f->buffer_.assign(bytes.begin(), bytes.end());
  f->data_ = f->buffer_.data();
  f->size_ = f->buffer_.size();
  if (Status s = f->parse_all(); !s) return error(f->source_, ": ", s.message());
  return std::shared_ptr<const GgufFile>(std::move(f));
}

Status GgufFile::parse_all() {
  Cursor c(data_, size_);
  auto magic = c.read<std::uint32_t>("magic");
  if (!magic) return Error{"not a GGUF file: " + magic.message()};
  if (std::memcmp(data_, "GGUF", 4) != 0) return error("offset 0: bad magic (expected \"GGUF\"): not a GGUF file");
  auto version = c.read<std::uint32_t>("version");
  if (!version) return version.error();
  if (*version == 1)
    return error("offset 4: GGUF version 1 is obsolete and not supported (llama.cpp refuses it too): "
                 "convert the model again with a current llama.cpp");
  if (*version > 0xffff && (*version & 0xffff) == 0)
    return error("offset 4: version field reads ", *version,
                 ": this looks like a big-endian GGUF file, which rapide (like llama.cpp on x86/ARM) cannot read");
  if (*version != 2 && *version != 3) return error("offset 4: unsupported GGUF version ", *version, " (expected 2 or 3)");
  version_ = *version;

  const std::uint64_t counts_at = c.pos();
  auto n_tensors = c.read<std::uint64_t>("tensor count");
  if (!n_tensors) return n_tensors.error();
  auto n_kv = c.read<std::uint64_t>("metadata count");
  if (!n_kv) return n_kv.error();
  // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at least
  // 8 + 4 + 8 + 4 + 8.
  if (*n_kv > c.left() / 13)
    return error("offset ", counts_at + 8, ": metadata count ", *n_kv, " cannot fit in the ", c.left(), " bytes left: corrupt or truncated file?");
  if (*n_tensors > c.left() / 32)
    return error("offset ", counts_at, ": tensor count ", *n_tensors, " cannot fit in the ", c.left(), " bytes left: corrupt or truncated file?");

  kvs_.reserve(static_cast<std::size_t>(*n_kv));
  std::unordered_set<std::string_view> keys;
  for (std::uint64_t i = 0; i < *n_kv; ++i) {
    const std::uint64_t at = c.pos();
    auto key = c.read_string("metadata key");
    if (!key) return key.error();
    if (key->empty()) return error("offset ", at, ": metadata key ", i, " is empty");
    if (!keys.insert(*key).second) return error("offset ", at, ": duplicate metadata key '", *key, "'");
    const std::uint64_t type_at = c.pos();
    auto type = c.read<std::uint32_t>("metadata value type");
    if (!type) return type.error();
    if (!valid_value_type(*type)) return error("offset ", type_at, ": key '", *key, "': unknown value type ", *type);
    auto value = read_value(c, static_cast<ValueType>(*type), 0, *key);
    if (!value) return value.error();
    kvs_.push_back({*key, std::move(*value)});
  }

  if (const Value* a = find("general.alignment")) {
    const auto v = a->as_uint();
    if (a->type() != ValueType::UINT32 || !v || *v == 0 || (*v & (*v - 1)) != 0)
      return error("metadata key 'general.alignment' must be a uint32 power of two, got ",
                   v ? std::to_string(*v) : std::string("a non-integer"), " (", value_type_name(a->type()), ")");
    alignment_ = *v;
  }

  tensors_.reserve(static_cast<std::size_t>(*n_tensors));
  std::unordered_set<std::string_view> names;
  for (std::uint64_t i = 0; i < *n_tensors; ++i) {
    const std::uint64_t at = c.pos();
    TensorInfo t;
    auto name = c.read_string("tensor name");
    if (!name) return name.error();
    t.name = *name;
    if (t.name.empty()) return error("offset ", at, ": tensor ", i, " has an empty name: corrupt file?");
    if (!names.insert(t.name).second) return error("offset ", at, ": duplicate tensor name '", t.name, "'");
    auto n_dims = c.read<std::uint32_t>("tensor dimension count");
    if (!n_dims) return n_dims.error();
    if (*n_dims > kMaxDims) return error("offset ", at, ": tensor '", t.name, "' has ", *n_dims, " dimensions (at most ", kMaxDims, ")");
    t.n_elements = 1;
    for (std::uint32_t d = 0; d < *n_dims; ++d) {
      auto dim = c.read<std::int64_t>("tensor dimension");
      if (!dim) return dim.error();
      if (*dim < 0) return error("offset ", at, ": tensor '", t.name, "' dimension ", d, " is negative (", *dim, ")");
      if (mul_overflows(t.n_elements, static_cast<std::uint64_t>(*dim), &t.n_elements) ||
          t.n_elements > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return error("offset ", at, ": tensor '", t.name, "' element count overflows");
      t.dims.push_back(*dim);
    }
    if (t.dims.empty()) t.dims.push_back(1);
    const std::uint64_t type_at = c.pos();
    auto type = c.read<std::uint32_t>("tensor type");
    if (!type) return type.error();
    const auto traits = tensor_type_traits(*type);
    if (!traits) return error("offset ", type_at, ": tensor '", t.name, "' has unknown type id ", *type);
    t.type = traits->type;
    if (static_cast<std::uint64_t>(t.dims[0]) % traits->block_elements != 0)
      return error("tensor '", t.name, "': row length ", t.dims[0], " is not a multiple of the ", traits->name, " block size ",
                   traits->block_elements);
    const auto row = tensor_row_bytes(t.type, static_cast<std::uint64_t>(t.dims[0]));
    std::uint64_t rows = 1;
    for (std::size_t d = 1; d < t.dims.size(); ++d)
      if (mul_overflows(rows, static_cast<std::uint64_t>(t.dims[d]), &rows))
        return error("offset ", at, ": tensor '", t.name, "' row count overflows");
    if (t.dims[0] == 0) rows = 0;
    if (mul_overflows(*row, rows, &t.n_bytes)) return error("offset ", at, ": tensor '", t.name, "': byte size overflows");
    const std::uint64_t off_at = c.pos();
    auto offset = c.read<std::uint64_t>("tensor data offset");
    if (!offset) return offset.error();
    if (*offset % alignment_ != 0)
      return error("offset ", off_at, ": tensor '", t.name, "' data offset ", *offset, " is not a multiple of the alignment ", alignment_);
    t.offset = *offset;
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment. Vocabulary-only files (no
  // tensors) may end before that padding.
  std::uint64_t pos = c.pos();
  const std::uint64_t pad = (alignment_ - pos % alignment_) % alignment_;
  data_offset_ = pos + pad;
  if (tensors_.empty()) return {};
  if (data_offset_ > size_) return error("offset ", pos, ": file ends before the data section (truncated file?)");
  const std::uint64_t data_bytes = size_ - data_offset_;
  for (const TensorInfo& t : tensors_) {
    std::uint64_t end = 0;
    if (__builtin_add_overflow(t.offset, t.n_bytes, &end) || end > data_bytes)
      return error("tensor '", t.name, "': data [", t.offset, ", +", t.n_bytes, ") lies beyond the end of the file (", data_bytes,
                   " data bytes): truncated file?");
  }
  // Tensors must not share bytes: a file whose tensors overlap was not written by a GGUF writer.
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const TensorInfo& t : tensors_)
    if (t.n_bytes > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->offset + by_offset[i - 1]->n_bytes > by_offset[i]->offset)
      return error("tensor '", by_offset[i]->name, "': data at ", by_offset[i]->offset, " overlaps tensor '", by_offset[i - 1]->name,
                   "' [", by_offset[i - 1]->offset, ", +", by_offset[i - 1]->n_bytes, "): corrupt file?");
  return {};
}

const Value* GgufFile::find(std::string_view key) const {
  for (const KeyValue& kv : kvs_)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

std::optional<std::string_view> GgufFile::get_string(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_string() : std::nullopt;
}
std::optional<std::uint64_t> GgufFile::get_uint(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_uint() : std::nullopt;
}
std::optional<std::int64_t> GgufFile::get_int(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_int() : std::nullopt;
}
std::optional<double> GgufFile::get_float(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_float() : std::nullopt;
}
std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_bool() : std::nullopt;
}
std::string_view GgufFile::architecture() const { return get_string("general.architecture").value_or(""); }

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const TensorInfo& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

std::span<const std::uint8_t> GgufFile::tensor_data(const TensorInfo& t) const {
  return {data_ + data_offset_ + t.offset, static_cast<std::size_t>(t.n_bytes)};
}

std::uint64_t GgufFile::tensor_data_bytes() const {
  std::uint64_t n = 0;
  for (const TensorInfo& t : tensors_) n += t.n_bytes;
  return n;
}

}  // namespace rapide::inference::gguf
