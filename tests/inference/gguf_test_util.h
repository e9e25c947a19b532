// Helpers for the GGUF and make-model suites: a sample writer holding every value type, deep
// value comparison, and running llama.cpp (bench/reference/gguf_load.mjs) on a file.
#pragma once

#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_writer.h"
#include "test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace rapide::inference::gguf::testing {

// A writer with one key of every scalar type, arrays of several element types (strings, an
// empty array), alignment 64 and four tensors (F32 borrowed, Q8_0 3-D produced in odd-sized
// chunks, an F16 vector, an empty tensor). `scratch` holds the borrowed bytes.
inline GgufWriter build_sample_writer(std::vector<std::uint8_t>& scratch) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_uint32("general.alignment", 64);
  w.set_uint8("test.u8", 200);
  w.set_int8("test.i8", -100);
  w.set_uint16("test.u16", 60000);
  w.set_int16("test.i16", -30000);
  w.set_uint32("test.u32", 4000000000u);
  w.set_int32("test.i32", -2000000000);
  w.set_uint64("test.u64", ~std::uint64_t{0});
  w.set_int64("test.i64", -(std::int64_t{1} << 40));
  w.set_float32("test.f32", 0.5f);
  w.set_float64("test.f64", -1e300);
  w.set_bool("test.bool", true);
  w.set_string("test.string", "h\xC3\xA9llo");
  w.set_string("test.empty_string", "");
  w.set_string_array("test.strings", {"a", "", "long string with spaces", "\xE2\x96\x81tok"});
  w.set_value("test.i32s", Value::make_array(ValueType::INT32, {Value::make_int(ValueType::INT32, -1), Value::make_int(ValueType::INT32, 7)}));
  w.set_value("test.f32s", Value::make_array(ValueType::FLOAT32, {Value::make_float(ValueType::FLOAT32, 1.25)}));
  w.set_value("test.bools", Value::make_array(ValueType::BOOL, {Value::make_bool(false), Value::make_bool(true)}));
  w.set_value("test.u64s", Value::make_array(ValueType::UINT64, {Value::make_uint(ValueType::UINT64, 1ull << 63)}));
  w.set_value("test.empty", Value::make_array(ValueType::UINT8, {}));
  scratch.resize(60);
  for (std::size_t i = 0; i < scratch.size(); ++i) scratch[i] = static_cast<std::uint8_t>(i);
  EXPECT_TRUE(w.add_tensor("a.weight", TensorType::F32, {3, 5}, scratch));
  EXPECT_TRUE(w.add_tensor("q.weight", TensorType::Q8_0, {64, 3, 2}, [](const ByteSink& emit) -> Status {
    std::vector<std::uint8_t> all(2 * 3 * 2 * 34);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i * 7 + 1);
    for (std::size_t at = 0; at < all.size(); at += 17)
      if (Status s = emit(std::span(all).subspan(at, std::min<std::size_t>(17, all.size() - at))); !s) return s;
    return {};
  }));
  EXPECT_TRUE(w.add_tensor("h.bias", TensorType::F16, {5}, std::span(scratch).first(10)));
  EXPECT_TRUE(w.add_tensor("empty", TensorType::F32, {0, 4}, std::span<const std::uint8_t>{}));
  return w;
}

inline void expect_same_value(const Value& want, const Value& got, const std::string& where) {
  ASSERT_EQ(want.type(), got.type()) << where;
  switch (want.type()) {
    case ValueType::STRING: EXPECT_EQ(want.as_string(), got.as_string()) << where; break;
    case ValueType::BOOL: EXPECT_EQ(want.as_bool(), got.as_bool()) << where; break;
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: {
      const double a = *want.as_float(), b = *got.as_float();
      if (!(std::isnan(a) && std::isnan(b))) {
        EXPECT_EQ(a, b) << where;
      }
      break;
    }
    case ValueType::ARRAY: {
      ASSERT_EQ(want.array_type(), got.array_type()) << where;
      ASSERT_EQ(want.array().size(), got.array().size()) << where;
      for (std::size_t i = 0; i < want.array().size(); ++i)
        expect_same_value(want.array()[i], got.array()[i], where + "[" + std::to_string(i) + "]");
      break;
    }
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64: EXPECT_EQ(want.as_int(), got.as_int()) << where; break;
    default: EXPECT_EQ(want.as_uint(), got.as_uint()) << where; break;
  }
}

struct LlamaReference {
  bool available = false;  // node and node-llama-cpp are installed
  std::string why_not;     // when not available
  bool ok = false;         // llama.cpp loaded the file
  std::string raw;         // stdout + stderr, for failure messages
  nlohmann::json json;
};

inline std::string find_node() {
  for (const char* p : {"/usr/bin/node", "/usr/local/bin/node"})
    if (std::filesystem::exists(p)) return p;
  return {};
}

// Runs bench/reference/gguf_load.mjs on `model`: llama.cpp loads it and prints a few greedy
// tokens. available=false (with the reason) when node or node_modules is missing.
inline LlamaReference run_llama_reference(const std::filesystem::path& model, const std::string& prompt, int n_tokens) {
  LlamaReference r;
  const std::string node = find_node();
  const std::filesystem::path dir = std::filesystem::path(RAPIDE_SOURCE_DIR) / "bench" / "reference";
  if (node.empty()) {
    r.why_not = "node is not installed: cannot run the llama.cpp reference";
    return r;
  }
  if (!std::filesystem::exists(dir / "node_modules" / "node-llama-cpp")) {
    r.why_not = "bench/reference/node_modules is absent (run scripts/setup.sh): cannot run the llama.cpp reference";
    return r;
  }
  r.available = true;
  auto p = rapide::testing::run_process({node, (dir / "gguf_load.mjs").string(), model.string(), prompt, std::to_string(n_tokens)});
  r.raw = p.out + p.err;
  const auto start = p.out.find('{');
  if (start == std::string::npos) return r;
  r.json = nlohmann::json::parse(p.out.substr(start), nullptr, false);
  r.ok = p.exit_code == 0 && r.json.is_object() && r.json.value("ok", false);
  return r;
}

}  // namespace rapide::inference::gguf::testing
