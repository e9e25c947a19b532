// `rapide gguf info FILE [--json]`: what a GGUF file holds: architecture, hyperparameters,
// tokenizer summary, the tensor table and totals. Vocabulary-only files (no tensors) work.
// Errors go to stderr with exit code 1.
#include "commands.h"

#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_info.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

namespace rapide::cli {
namespace {

namespace gg = rapide::inference::gguf;
using rapide::inference::tensor_type_traits;

nlohmann::json value_json(const gg::Value& v) {
  switch (v.type()) {
    case gg::ValueType::STRING: return std::string(*v.as_string());
    case gg::ValueType::BOOL: return *v.as_bool();
    case gg::ValueType::FLOAT32:
    case gg::ValueType::FLOAT64: return *v.as_float();
    case gg::ValueType::INT8:
    case gg::ValueType::INT16:
    case gg::ValueType::INT32:
    case gg::ValueType::INT64: return *v.as_int();
    case gg::ValueType::ARRAY: {
      nlohmann::json a = nlohmann::json::array();
      for (const gg::Value& item : v.array()) a.push_back(value_json(item));
      return a;
    }
    default: return *v.as_uint();
  }
}

// Strings in JSON must be valid UTF-8; token texts of byte tokens may not be.
std::string utf8_or_replaced(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string with_commas(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string s;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}

std::string human_bytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

nlohmann::json info_json(const gg::GgufFile& f, const gg::GgufSummary& s) {
  nlohmann::json j;
  j["file"] = f.source_name();
  j["version"] = f.version();
  j["file_bytes"] = f.file_bytes();
  j["alignment"] = f.alignment();
  j["data_offset"] = f.data_offset();
  j["metadata_count"] = f.metadata().size();
  j["architecture"] = std::string(s.architecture);
  j["name"] = std::string(s.name);
  if (s.file_type) {
    j["file_type"] = *s.file_type;
    j["file_type_name"] = std::string(gg::file_type_name(*s.file_type));
  }
  nlohmann::json general = nlohmann::json::object();
  for (const gg::KeyValue* kv : s.general) general[std::string(kv->key)] = value_json(kv->value);
  j["general"] = general;
  nlohmann::json hp = nlohmann::json::object();
  for (const gg::KeyValue* kv : s.hyperparameters) hp[std::string(kv->key)] = value_json(kv->value);
  j["hyperparameters"] = hp;
  nlohmann::json tok;
  tok["present"] = s.tokenizer.present;
  tok["model"] = std::string(s.tokenizer.model);
  tok["pre"] = std::string(s.tokenizer.pre);
  tok["vocab_size"] = s.tokenizer.vocab_size;
  tok["merges"] = s.tokenizer.merges;
  if (s.tokenizer.add_bos) tok["add_bos_token"] = *s.tokenizer.add_bos;
  if (s.tokenizer.add_eos) tok["add_eos_token"] = *s.tokenizer.add_eos;
  nlohmann::json special = nlohmann::json::object();
  for (const gg::SpecialToken& st : s.tokenizer.special)
    special[std::string(st.name)] = {{"id", st.id}, {"text", utf8_or_replaced(st.text)}};
  tok["special"] = special;
  j["tokenizer"] = tok;
  nlohmann::json tensors = nlohmann::json::array();
  for (const gg::TensorInfo& t : f.tensors())
    tensors.push_back({{"name", std::string(t.name)},
                       {"type", std::string(tensor_type_traits(t.type).name)},
                       {"shape", t.dims},
                       {"elements", t.n_elements},
                       {"bytes", t.n_bytes},
                       {"offset", t.offset}});
  j["tensors"] = tensors;
  nlohmann::json by_type = nlohmann::json::object();
  for (const gg::TypeTotals& tt : s.by_type)
    by_type[std::string(tensor_type_traits(tt.type).name)] = {{"tensors", tt.tensors}, {"parameters", tt.parameters}, {"bytes", tt.bytes}};
  j["totals"] = {{"tensors", f.tensors().size()}, {"parameters", s.parameters}, {"bytes", s.tensor_bytes}, {"by_type", by_type}};
  return j;
}

// Concatenates text pieces (appending, which also sidesteps gcc 12's false -Wrestrict alarm on
// chains of `"literal" + std::string`).
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  (s.append(std::string_view(parts)), ...);
  return s;
}

std::string on_off(bool b) { return b ? "true" : "false"; }
std::string or_absent(std::string_view s) { return s.empty() ? std::string("(absent)") : std::string(s); }

std::string info_text(const gg::GgufFile& f, const gg::GgufSummary& s) {
  std::string o;
  auto line = [&o](const std::string& l) {
    o.append(l);
    o.push_back('\n');
  };
  line(cat("file: ", f.source_name()));
  line(cat("  GGUF v", std::to_string(f.version()), ", ", with_commas(f.file_bytes()), " bytes (", human_bytes(f.file_bytes()),
           "), alignment ", std::to_string(f.alignment()), ", data at offset ", std::to_string(f.data_offset())));
  line(cat("  ", std::to_string(f.metadata().size()), " metadata keys, ", std::to_string(f.tensors().size()), " tensors",
           f.tensors().empty() ? " (vocabulary only)" : ""));
  line(cat("architecture: ", s.architecture.empty() ? std::string_view("(none: general.architecture is absent)") : s.architecture));
  if (!s.name.empty()) line(cat("name: ", s.name));
  if (s.file_type) {
    const auto n = gg::file_type_name(*s.file_type);
    line(cat("file type: ", std::to_string(*s.file_type), " (", n.empty() ? std::string_view("unknown") : n, ")"));
  }
  line("hyperparameters:");
  if (s.hyperparameters.empty()) line("  (none)");
  for (const gg::KeyValue* kv : s.hyperparameters) line(cat("  ", kv->key, " = ", gg::format_value(kv->value)));
  line("tokenizer:");
  if (!s.tokenizer.present) {
    line("  (none)");
  } else {
    line(cat("  model: ", or_absent(s.tokenizer.model), ", pre: ", or_absent(s.tokenizer.pre)));
    line(cat("  vocab: ", with_commas(s.tokenizer.vocab_size), " tokens, merges: ", with_commas(s.tokenizer.merges)));
    if (s.tokenizer.add_bos) line(cat("  add_bos_token: ", on_off(*s.tokenizer.add_bos)));
    if (s.tokenizer.add_eos) line(cat("  add_eos_token: ", on_off(*s.tokenizer.add_eos)));
    if (!s.tokenizer.special.empty()) {
      line("  special tokens:");
      for (const gg::SpecialToken& st : s.tokenizer.special) {
        const gg::Value text = gg::Value::make_string(st.text);
        line(cat("    ", st.name, " = ", std::to_string(st.id), st.text.empty() ? std::string() : cat(" ", gg::format_value(text))));
      }
    }
  }
  if (!f.tensors().empty()) {
    line("tensors:");
    std::size_t w = 4;
    for (const gg::TensorInfo& t : f.tensors()) w = std::max(w, t.name.size());
    char buf[512];
    std::snprintf(buf, sizeof buf, "  %-*s  %-7s  %-24s  %15s", static_cast<int>(w), "name", "type", "shape", "bytes");
    line(buf);
    for (const gg::TensorInfo& t : f.tensors()) {
      std::snprintf(buf, sizeof buf, "  %-*s  %-7s  %-24s  %15s", static_cast<int>(w), std::string(t.name).c_str(),
                    std::string(tensor_type_traits(t.type).name).c_str(), gg::format_shape(t.dims).c_str(), with_commas(t.n_bytes).c_str());
      line(buf);
    }
  }
  line("totals:");
  line(cat("  parameters: ", with_commas(s.parameters)));
  line(cat("  tensor bytes: ", with_commas(s.tensor_bytes), " (", human_bytes(s.tensor_bytes), ")"));
  for (const gg::TypeTotals& tt : s.by_type)
    line(cat("  ", tensor_type_traits(tt.type).name, ": ", std::to_string(tt.tensors), " tensors, ", with_commas(tt.parameters),
             " parameters, ", with_commas(tt.bytes), " bytes"));
  return o;
}

struct InfoArgs {
  std::string file;
  bool json = false;
};

int run_info(const InfoArgs& a) {
  auto f = gg::GgufFile::open(a.file);
  if (!f) {
    std::fprintf(stderr, "rapide gguf info: %s\n", f.message().c_str());
    return 1;
  }
  const gg::GgufSummary s = gg::summarize(**f);
  if (a.json) {
    const std::string out = info_json(**f, s).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fputs(out.c_str(), stdout);
  } else {
    std::fputs(info_text(**f, s).c_str(), stdout);
  }
  return 0;
}

}  // namespace

void register_gguf(CLI::App& app, int* exit_code) {
  CLI::App* gguf = app.add_subcommand("gguf", "Inspect GGUF model and vocabulary files");
  gguf->require_subcommand(1);
  auto args = std::make_shared<InfoArgs>();
  CLI::App* info = gguf->add_subcommand(
      "info", "Print a GGUF file's architecture, hyperparameters, tokenizer, tensor table and totals");
  info->add_option("file", args->file, "The GGUF file (a model, or a vocabulary-only file)")->required();
  info->add_flag("--json", args->json, "Print one JSON object instead of text");
  info->callback([args, exit_code] { *exit_code = run_info(*args); });
}

}  // namespace rapide::cli
