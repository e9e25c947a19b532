// GGUF writing: the mirror image of reader.cpp. Everything goes through one ByteSink so the
// file and in-memory outputs share the code; the file sink buffers writes with stdio.
#include "rapide/inference/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_set>

namespace rapide::inference::gguf {
namespace {

constexpr std::uint32_t kMaxDims = 4;
constexpr std::uint64_t kDefaultAlignment = 32;

// Little-endian encoding into a small staging buffer (the host is little-endian: x86/ARM).
class Encoder {
 public:
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void put_string(std::string_view s) {
    put<std::uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  std::vector<std::uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

Status encode_value(Encoder& e, const Value& v, std::string_view key) {
  switch (v.type()) {
    case ValueType::UINT8: e.put<std::uint8_t>(static_cast<std::uint8_t>(*v.as_uint())); break;
    case ValueType::UINT16: e.put<std::uint16_t>(static_cast<std::uint16_t>(*v.as_uint())); break;
    case ValueType::UINT32: e.put<std::uint32_t>(static_cast<std::uint32_t>(*v.as_uint())); break;
    case ValueType::UINT64: e.put<std::uint64_t>(*v.as_uint()); break;
    case ValueType::INT8: e.put<std::int8_t>(static_cast<std::int8_t>(*v.as_int())); break;
    case ValueType::INT16: e.put<std::int16_t>(static_cast<std::int16_t>(*v.as_int())); break;
    case ValueType::INT32: e.put<std::int32_t>(static_cast<std::int32_t>(*v.as_int())); break;
    case ValueType::INT64: e.put<std::int64_t>(*v.as_int()); break;
    case ValueType::FLOAT32: e.put<float>(static_cast<float>(*v.as_float())); break;
    case ValueType::FLOAT64: e.put<double>(*v.as_float()); break;
    case ValueType::BOOL: e.put<std::uint8_t>(*v.as_bool() ? 1 : 0); break;
    case ValueType::STRING: e.put_string(*v.as_string()); break;
    case ValueType::ARRAY: {
      if (v.array_type() == ValueType::ARRAY)
        return error("key '", key, "': arrays of arrays cannot be written (llama.cpp rejects them)");
      e.put<std::uint32_t>(static_cast<std::uint32_t>(v.array_type()));
      e.put<std::uint64_t>(v.array().size());
      for (const Value& item : v.array()) {
        if (item.type() != v.array_type())
          return error("key '", key, "': array of ", value_type_name(v.array_type()), " holds a ", value_type_name(item.type()),
                       " element");
        if (Status s = encode_value(e, item, key); !s) return s;
      }
      break;
    }
  }
  return {};
}

std::uint64_t pad_to(std::uint64_t n, std::uint64_t alignment) { return (alignment - n % alignment) % alignment; }

}  // namespace

GgufWriter::GgufWriter(std::uint32_t version) : version_(version) {}

std::string_view GgufWriter::intern(std::string_view s) { return strings_.emplace_back(s); }

Value GgufWriter::deep_copy(const Value& v) {
  switch (v.type()) {
    case ValueType::STRING: return Value::make_string(intern(*v.as_string()));
    case ValueType::ARRAY: {
      std::vector<Value> items;
      items.reserve(v.array().size());
      for (const Value& item : v.array()) items.push_back(deep_copy(item));
      return Value::make_array(v.array_type(), std::move(items));
    }
    default: return v;
  }
}

void GgufWriter::set(std::string_view key, Value v) {
  for (Entry& e : kvs_)
    if (e.key == key) {
      e.value = std::move(v);
      return;
    }
  kvs_.push_back({intern(key), std::move(v)});
}

void GgufWriter::set_uint8(std::string_view key, std::uint8_t v) { set(key, Value::make_uint(ValueType::UINT8, v)); }
void GgufWriter::set_int8(std::string_view key, std::int8_t v) { set(key, Value::make_int(ValueType::INT8, v)); }
void GgufWriter::set_uint16(std::string_view key, std::uint16_t v) { set(key, Value::make_uint(ValueType::UINT16, v)); }
void GgufWriter::set_int16(std::string_view key, std::int16_t v) { set(key, Value::make_int(ValueType::INT16, v)); }
void GgufWriter::set_uint32(std::string_view key, std::uint32_t v) { set(key, Value::make_uint(ValueType::UINT32, v)); }
void GgufWriter::set_int32(std::string_view key, std::int32_t v) { set(key, Value::make_int(ValueType::INT32, v)); }
void GgufWriter::set_uint64(std::string_view key, std::uint64_t v) { set(key, Value::make_uint(ValueType::UINT64, v)); }
void GgufWriter::set_int64(std::string_view key, std::int64_t v) { set(key, Value::make_int(ValueType::INT64, v)); }
void GgufWriter::set_float32(std::string_view key, float v) { set(key, Value::make_float(ValueType::FLOAT32, v)); }
void GgufWriter::set_float64(std::string_view key, double v) { set(key, Value::make_float(ValueType::FLOAT64, v)); }
void GgufWriter::set_bool(std::string_view key, bool v) { set(key, Value::make_bool(v)); }
void GgufWriter::set_string(std::string_view key, std::string_view v) { set(key, Value::make_string(intern(v))); }
void GgufWriter::set_string_array(std::string_view key, const std::vector<std::string>& items) {
  std::vector<Value> values;
  values.reserve(items.size());
  for (const std::string& s : items) values.push_back(Value::make_string(intern(s)));
  set(key, Value::make_array(ValueType::STRING, std::move(values)));
}
void GgufWriter::set_value(std::string_view key, const Value& v) { set(key, deep_copy(v)); }

void GgufWriter::copy_metadata(const GgufFile& src, std::string_view prefix) {
  for (const KeyValue& kv : src.metadata())
    if (kv.key.substr(0, prefix.size()) == prefix) set_value(kv.key, kv.value);
}

bool GgufWriter::remove(std::string_view key) {
  for (auto it = kvs_.begin(); it != kvs_.end(); ++it)
    if (it->key == key) {
      kvs_.erase(it);
      return true;
    }
  return false;
}

const Value* GgufWriter::find(std::string_view key) const {
  for (const Entry& e : kvs_)
    if (e.key == key) return &e.value;
  return nullptr;
}

Result<std::uint64_t> GgufWriter::check_tensor(std::string_view name, TensorType type,
                                               const std::vector<std::int64_t>& dims) const {
  if (name.empty()) return error("tensor names must not be empty");
  for (const Tensor& t : tensors_)
    if (t.name == name) return error("tensor '", name, "' added twice");
  if (dims.empty() || dims.size() > kMaxDims)
    return error("tensor '", name, "': ", dims.size(), " dimensions (expected 1 to ", kMaxDims, ")");
  std::uint64_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0) return error("tensor '", name, "': negative dimension ", d);
    if (__builtin_mul_overflow(n, static_cast<std::uint64_t>(d), &n) ||
        n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return error("tensor '", name, "': element count overflows");
  }
  const auto traits = tensor_type_traits(type);
  const auto row = tensor_row_bytes(type, static_cast<std::uint64_t>(dims[0]));
  if (!row)
    return error("tensor '", name, "': row length ", dims[0], " is not a multiple of the ", traits.name, " block size ",
                 traits.block_elements);
  const std::uint64_t rows = dims[0] == 0 ? 0 : n / static_cast<std::uint64_t>(dims[0]);
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(*row, rows, &bytes)) return error("tensor '", name, "': byte size overflows");
  return bytes;
}

Status GgufWriter::add_tensor(std::string_view name, TensorType type, std::vector<std::int64_t> dims,
                              std::span<const std::uint8_t> bytes) {
  auto n = check_tensor(name, type, dims);
  if (!n) return n.error();
  if (bytes.size() != *n)
    return error("tensor '", name, "': ", bytes.size(), " bytes given, its type and shape need ", *n);
  tensors_.push_back({std::string(name), type, std::move(dims), *n, bytes, nullptr});
  return {};
}

Status GgufWriter::add_tensor(std::string_view name, TensorType type, std::vector<std::int64_t> dims, TensorProducer producer) {
  auto n = check_tensor(name, type, dims);
  if (!n) return n.error();
  if (!producer) return error("tensor '", name, "': no producer given");
  tensors_.push_back({std::string(name), type, std::move(dims), *n, {}, std::move(producer)});
  return {};
}

Result<std::uint64_t> GgufWriter::alignment() const {
  const Value* a = find("general.alignment");
  if (!a) return kDefaultAlignment;
  const auto v = a->as_uint();
  if (a->type() != ValueType::UINT32 || !v || *v == 0 || (*v & (*v - 1)) != 0)
    return error("general.alignment must be a uint32 power of two, got ",
                 v ? std::to_string(*v) + " (" + std::string(value_type_name(a->type())) + ")" : std::string("a non-integer"));
  return *v;
}

Result<WriteLayout> GgufWriter::write_all(const ByteSink& out) const {
  auto align = alignment();
  if (!align) return align.error();
  WriteLayout layout;
  std::uint64_t pos = 0;
  Encoder e;
  e.put<std::uint32_t>(0x46554747u);  // "GGUF"
  e.put<std::uint32_t>(version_);
  e.put<std::uint64_t>(tensors_.size());
  e.put<std::uint64_t>(kvs_.size());
  layout.header_end = e.bytes().size();
  for (const Entry& kv : kvs_) {
    layout.kv_offsets.push_back(e.bytes().size());
    e.put_string(kv.key);
    e.put<std::uint32_t>(static_cast<std::uint32_t>(kv.value.type()));
    if (Status s = encode_value(e, kv.value, kv.key); !s) return s.error();
  }
  std::uint64_t data_pos = 0;
  for (const Tensor& t : tensors_) {
    layout.tensor_info_offsets.push_back(e.bytes().size());
    e.put_string(t.name);
    e.put<std::uint32_t>(static_cast<std::uint32_t>(t.dims.size()));
    for (std::int64_t d : t.dims) e.put<std::int64_t>(d);
    e.put<std::uint32_t>(static_cast<std::uint32_t>(t.type));
    e.put<std::uint64_t>(data_pos);
    layout.tensor_data_offsets.push_back(data_pos);
    data_pos += t.n_bytes + pad_to(t.n_bytes, *align);
  }
  layout.tensor_infos_end = e.bytes().size();
  const std::uint64_t header_pad = pad_to(e.bytes().size(), *align);
  e.bytes().resize(e.bytes().size() + header_pad, 0);
  layout.data_offset = e.bytes().size();
  for (std::uint64_t& off : layout.tensor_data_offsets) off += layout.data_offset;
  if (Status s = out(e.bytes()); !s) return s.error();
  pos = e.bytes().size();

  const std::vector<std::uint8_t> zeros(static_cast<std::size_t>(*align), 0);
  for (const Tensor& t : tensors_) {
    std::uint64_t emitted = 0;
    const ByteSink counted = [&](std::span<const std::uint8_t> chunk) -> Status {
      if (chunk.size() > t.n_bytes - emitted)
        return error("tensor '", t.name, "': producer emitted more than the ", t.n_bytes, " bytes its type and shape need");
      emitted += chunk.size();
      return out(chunk);
    };
    if (t.producer) {
      if (Status s = t.producer(counted); !s) return error("tensor '", t.name, "': ", s.message());
    } else if (Status s = counted(t.bytes); !s) {
      return s.error();
    }
    if (emitted != t.n_bytes)
      return error("tensor '", t.name, "': producer emitted ", emitted, " bytes, its type and shape need ", t.n_bytes);
    const std::uint64_t pad = pad_to(t.n_bytes, *align);
    if (Status s = out(std::span(zeros).first(static_cast<std::size_t>(pad))); !s) return s.error();
    pos += t.n_bytes + pad;
  }
  layout.file_bytes = pos;
  return layout;
}

Result<std::vector<std::uint8_t>> GgufWriter::write_to_memory(WriteLayout* layout) const {
  std::vector<std::uint8_t> bytes;
  auto l = write_all([&bytes](std::span<const std::uint8_t> chunk) -> Status {
    bytes.insert(bytes.end(), chunk.begin(), chunk.end());
    return {};
  });
  if (!l) return l.error();
  if (layout) *layout = std::move(*l);
  return bytes;
}

Result<WriteLayout> GgufWriter::write(const std::filesystem::path& path) const {
  const std::filesystem::path partial = path.string() + ".partial";
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> f(std::fopen(partial.c_str(), "wb"));
  if (!f) return error("cannot create '", partial.string(), "': ", std::strerror(errno));
  std::setvbuf(f.get(), nullptr, _IOFBF, 1 << 20);
  auto layout = write_all([&](std::span<const std::uint8_t> chunk) -> Status {
    if (!chunk.empty() && std::fwrite(chunk.data(), 1, chunk.size(), f.get()) != chunk.size())
      return error("writing '", partial.string(), "': ", std::strerror(errno));
    return {};
  });
  const bool flushed = std::fflush(f.get()) == 0;
  const int flush_errno = errno;
  f.reset();
  std::error_code ec;
  if (!layout) {
    std::filesystem::remove(partial, ec);
    return layout.error();
  }
  if (!flushed) {
    std::filesystem::remove(partial, ec);
    return error("writing '", partial.string(), "': ", std::strerror(flush_errno));
  }
  std::filesystem::rename(partial, path, ec);
  if (ec) return error("cannot rename '", partial.string(), "' to '", path.string(), "': ", ec.message());
  return layout;
}

}  // namespace rapide::inference::gguf
