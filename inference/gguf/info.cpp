// GGUF summaries for `rapide gguf info`.
#include "rapide/inference/gguf_info.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace rapide::inference::gguf {
namespace {

// tokenizer.ggml.<key>_token_id, in the order shown.
constexpr std::pair<std::string_view, std::string_view> kSpecialKeys[] = {
    {"bos", "tokenizer.ggml.bos_token_id"},         {"eos", "tokenizer.ggml.eos_token_id"},
    {"eot", "tokenizer.ggml.eot_token_id"},         {"eom", "tokenizer.ggml.eom_token_id"},
    {"unknown", "tokenizer.ggml.unknown_token_id"}, {"separator", "tokenizer.ggml.seperator_token_id"},
    {"padding", "tokenizer.ggml.padding_token_id"}, {"mask", "tokenizer.ggml.mask_token_id"},
    {"fim_pre", "tokenizer.ggml.fim_pre_token_id"}, {"fim_suf", "tokenizer.ggml.fim_suf_token_id"},
    {"fim_mid", "tokenizer.ggml.fim_mid_token_id"}, {"fim_pad", "tokenizer.ggml.fim_pad_token_id"},
    {"fim_rep", "tokenizer.ggml.fim_rep_token_id"}, {"fim_sep", "tokenizer.ggml.fim_sep_token_id"},
};

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

std::string format_value(const Value& v, std::size_t max_items) {
  switch (v.type()) {
    case ValueType::STRING: {
      std::string out(1, '"');
      out.append(escape(*v.as_string()));
      out.push_back('"');
      return out;
    }
    case ValueType::BOOL: return *v.as_bool() ? "true" : "false";
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.9g", *v.as_float());
      return buf;
    }
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64: return std::to_string(*v.as_int());
    case ValueType::ARRAY: {
      std::string s = "[";
      const auto items = v.array();
      for (std::size_t i = 0; i < items.size() && i < max_items; ++i) {
        if (i) s += ", ";
        s += format_value(items[i], max_items);
      }
      if (items.size() > max_items) s += ", ...";
      s.push_back(']');
      if (items.size() > max_items) {
        s.append(" (").append(std::to_string(items.size())).append(" ").append(value_type_name(v.array_type())).append("s)");
      }
      return s;
    }
    default: return std::to_string(*v.as_uint());
  }
}

std::string format_shape(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims[i]);
  }
  s.push_back(']');
  return s;
}

std::string_view file_type_name(std::uint64_t file_type) {
  // llama.cpp's enum llama_ftype (include/llama.h); ids 4-6 and 33+ removed or unused.
  switch (file_type) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K_S";
    case 12: return "Q3_K_M";
    case 13: return "Q3_K_L";
    case 14: return "Q4_K_S";
    case 15: return "Q4_K_M";
    case 16: return "Q5_K_S";
    case 17: return "Q5_K_M";
    case 18: return "Q6_K";
    case 19: return "IQ2_XXS";
    case 20: return "IQ2_XS";
    case 21: return "Q2_K_S";
    case 22: return "IQ3_XS";
    case 23: return "IQ3_XXS";
    case 24: return "IQ1_S";
    case 25: return "IQ4_NL";
    case 26: return "IQ3_S";
    case 27: return "IQ3_M";
    case 28: return "IQ2_S";
    case 29: return "IQ2_M";
    case 30: return "IQ4_XS";
    case 31: return "IQ1_M";
    case 32: return "BF16";
    case 36: return "TQ1_0";
    case 37: return "TQ2_0";
    case 38: return "MXFP4_MOE";
    default: return "";
  }
}

GgufSummary summarize(const GgufFile& file) {
  GgufSummary s;
  s.architecture = file.architecture();
  s.name = file.get_string("general.name").value_or("");
  s.file_type = file.get_uint("general.file_type");
  const std::string arch_prefix = s.architecture.empty() ? std::string("\x01") : std::string(s.architecture) + ".";
  for (const KeyValue& kv : file.metadata()) {
    if (kv.key.starts_with("general.")) {
      s.general.push_back(&kv);
    } else if (kv.key.starts_with(arch_prefix)) {
      s.hyperparameters.push_back(&kv);
    } else if (kv.key.starts_with("tokenizer.")) {
      s.tokenizer.present = true;
    } else {
      ++s.other_keys;
    }
  }
  TokenizerSummary& t = s.tokenizer;
  t.model = file.get_string("tokenizer.ggml.model").value_or("");
  t.pre = file.get_string("tokenizer.ggml.pre").value_or("");
  const Value* tokens = file.find("tokenizer.ggml.tokens");
  if (tokens && tokens->type() == ValueType::ARRAY) t.vocab_size = tokens->array().size();
  if (const Value* merges = file.find("tokenizer.ggml.merges"); merges && merges->type() == ValueType::ARRAY)
    t.merges = merges->array().size();
  t.add_bos = file.get_bool("tokenizer.ggml.add_bos_token");
  t.add_eos = file.get_bool("tokenizer.ggml.add_eos_token");
  for (const auto& [name, key] : kSpecialKeys) {
    const auto id = file.get_int(key);
    if (!id) continue;
    SpecialToken st{name, *id, {}};
    if (tokens && tokens->type() == ValueType::ARRAY && tokens->array_type() == ValueType::STRING && *id >= 0 &&
        static_cast<std::uint64_t>(*id) < t.vocab_size)
      st.text = tokens->array()[static_cast<std::size_t>(*id)].as_string().value_or("");
    t.special.push_back(st);
  }

  for (const TensorInfo& ti : file.tensors()) {
    s.parameters += ti.n_elements;
    s.tensor_bytes += ti.n_bytes;
    auto it = std::find_if(s.by_type.begin(), s.by_type.end(), [&](const TypeTotals& x) { return x.type == ti.type; });
    if (it == s.by_type.end()) it = s.by_type.insert(s.by_type.end(), TypeTotals{ti.type, 0, 0, 0});
    it->tensors += 1;
    it->parameters += ti.n_elements;
    it->bytes += ti.n_bytes;
  }
  std::stable_sort(s.by_type.begin(), s.by_type.end(), [](const TypeTotals& a, const TypeTotals& b) { return a.bytes > b.bytes; });
  return s;
}

}  // namespace rapide::inference::gguf
