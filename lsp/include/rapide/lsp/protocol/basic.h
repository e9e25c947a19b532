// Basic LSP structures (positions, ranges, documents, edits, diagnostics). Field names follow
// the spec (camelCase). parse_* read from JSON with path-carrying errors (see json_read.h);
// to_json writes the wire form.
#pragma once

#include "rapide/lsp/protocol/json_read.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rapide::lsp {

struct Position {
  std::int64_t line = 0;
  std::int64_t character = 0;
  bool operator==(const Position&) const = default;
};

struct Range {
  Position start;
  Position end;
  bool operator==(const Range&) const = default;
};

struct TextEdit {
  Range range;
  std::string newText;
};

struct Diagnostic {
  Range range;
  std::optional<std::int64_t> severity;  // 1 error .. 4 hint
  std::string message;
  std::optional<std::string> source;
  nlohmann::json code;  // string, integer or null, echoed back as-is
};

struct TextDocumentPositionParams {
  std::string uri;  // textDocument.uri
  Position position;
};

Position parse_position(const nlohmann::json& v, const JsonPath& at);
Range parse_range(const nlohmann::json& v, const JsonPath& at);
Diagnostic parse_diagnostic(const nlohmann::json& v, const JsonPath& at);
std::string parse_document_uri(const nlohmann::json& params, const JsonPath& at);  // params.textDocument.uri
TextDocumentPositionParams parse_text_document_position(const nlohmann::json& params, const JsonPath& at);

nlohmann::json to_json(const Position& p);
nlohmann::json to_json(const Range& r);
nlohmann::json to_json(const TextEdit& e);
nlohmann::json to_json(const Diagnostic& d);

}  // namespace rapide::lsp
