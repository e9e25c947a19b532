#include "rapide/lsp/protocol/basic.h"

namespace rapide::lsp {

Position parse_position(const nlohmann::json& v, const JsonPath& at) {
  Position p;
  p.line = read_int(require_member(v, "line", at), at / "line");
  p.character = read_int(require_member(v, "character", at), at / "character");
  if (p.line < 0) throw ParamsError((at / "line").str() + ": must be >= 0, got " + std::to_string(p.line));
  if (p.character < 0)
    throw ParamsError((at / "character").str() + ": must be >= 0, got " + std::to_string(p.character));
  return p;
}

Range parse_range(const nlohmann::json& v, const JsonPath& at) {
  Range r;
  r.start = parse_position(require_member(v, "start", at), at / "start");
  r.end = parse_position(require_member(v, "end", at), at / "end");
  return r;
}

Diagnostic parse_diagnostic(const nlohmann::json& v, const JsonPath& at) {
  Diagnostic d;
  d.range = parse_range(require_member(v, "range", at), at / "range");
  d.message = read_string(require_member(v, "message", at), at / "message");
  if (const auto* s = optional_member(v, "severity")) {
    d.severity = read_int(*s, at / "severity");
    if (*d.severity < 1 || *d.severity > 4)
      throw ParamsError((at / "severity").str() + ": expected 1..4, got " + std::to_string(*d.severity));
  }
  if (const auto* s = optional_member(v, "source")) d.source = read_string(*s, at / "source");
  if (const auto* c = optional_member(v, "code")) d.code = *c;
  return d;
}

std::string parse_document_uri(const nlohmann::json& params, const JsonPath& at) {
  const auto& td = require_member(params, "textDocument", at);
  return read_string(require_member(td, "uri", at / "textDocument"), at / "textDocument" / "uri");
}

TextDocumentPositionParams parse_text_document_position(const nlohmann::json& params, const JsonPath& at) {
  TextDocumentPositionParams p;
  p.uri = parse_document_uri(params, at);
  p.position = parse_position(require_member(params, "position", at), at / "position");
  return p;
}

nlohmann::json to_json(const Position& p) { return {{"line", p.line}, {"character", p.character}}; }
nlohmann::json to_json(const Range& r) { return {{"start", to_json(r.start)}, {"end", to_json(r.end)}}; }
nlohmann::json to_json(const TextEdit& e) { return {{"range", to_json(e.range)}, {"newText", e.newText}}; }
nlohmann::json to_json(const Diagnostic& d) {
  nlohmann::json j = {{"range", to_json(d.range)}, {"message", d.message}};
  if (d.severity) j["severity"] = *d.severity;
  if (d.source) j["source"] = *d.source;
  if (!d.code.is_null()) j["code"] = d.code;
  return j;
}

}  // namespace rapide::lsp
