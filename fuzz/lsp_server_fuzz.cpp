// libFuzzer target for the language server's protocol layer: JSON-RPC framing and dispatch of
// arbitrary messages to an initialized server (in-memory transport, synchronous scheduler, no
// model). Each input is a fresh server that has been sent initialize + initialized and a
// didOpen of a small Python file; then:
//   first byte & 1 == 0: the rest is raw client bytes (framing), written in chunks whose sizes
//                        come from the input, so headers and bodies split across reads;
//   otherwise:           the rest is a list of message bodies separated by 0x1E, each framed
//                        correctly, so the fuzzer spends its time on dispatch and params.
// Checks: no crash/UB/leak; everything the server writes is a JSON object with
// "jsonrpc":"2.0"; in body mode, every message with an integer or string "id" that is not a
// response (ids unique within the input) sent before `exit` is answered exactly once: requests,
// and invalid requests whose id could be read.
#include "fuzz_input.h"

#include "rapide/lsp/event_loop.h"
#include "rapide/lsp/framing.h"
#include "rapide/lsp/server.h"
#include "rapide/lsp/transport.h"

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace rapide::lsp;
using nlohmann::json;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "lsp_server_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::string framed(const json& j) { return frame_message(j.dump()); }

const std::shared_ptr<spdlog::logger>& quiet_logger() {
  static auto logger = std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  return logger;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  rapide::fuzz::ByteReader in(data, size);
  const bool body_mode = (in.u8() & 1) != 0;

  EventLoop loop;
  InMemoryTransport transport(loop, /*max_body_bytes=*/1 << 16);
  ServerOptions options;
  options.scheduler.worker_threads = 0;
  options.scheduler.debounce = DebouncePolicy::none();
  options.prefetch = false;
  auto server = std::make_unique<LspServer>(loop, transport, options, quiet_logger());
  bool exited = false;
  server->start([&](int) { exited = true; });

  std::string setup =
      framed({{"jsonrpc", "2.0"}, {"id", "init"}, {"method", "initialize"},
              {"params", {{"processId", nullptr}, {"rootUri", nullptr}, {"capabilities", json::object()}}}}) +
      framed({{"jsonrpc", "2.0"}, {"method", "initialized"}, {"params", json::object()}}) +
      framed({{"jsonrpc", "2.0"},
              {"method", "textDocument/didOpen"},
              {"params",
               {{"textDocument",
                 {{"uri", "file:///w/a.py"}, {"languageId", "python"}, {"version", 1},
                  {"text", "import os\n\ndef f(x):\n    return x + 1\n\nclass C:\n    def m(self):\n        pass\n"}}}}}});
  transport.client_write(setup);
  loop.run_until_idle();
  transport.take_sent();

  std::map<std::string, int> expected;  // request id (dumped) -> 1
  std::vector<std::string> ids_in_order;
  bool unique_ids = true;
  if (!body_mode) {
    while (!in.empty() && !exited) {
      std::size_t n = 1 + in.u8() % 64;
      transport.client_write(std::string(in.bytes(n)));
      loop.run_until_idle();
    }
  } else {
    std::string_view rest = in.rest();
    std::size_t start = 0;
    while (start <= rest.size() && !exited) {
      std::size_t end = rest.find('\x1e', start);
      if (end == std::string_view::npos) end = rest.size();
      std::string body(rest.substr(start, end - start));
      start = end + 1;
      json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
      // The server answers every object with a usable id (an integer or a string) that is not a
      // response, once, with that id: requests, but also invalid requests (no "method", a
      // non-string method, a wrong "jsonrpc", bad params) get their error under their id.
      const bool usable_id = j.is_object() && j.contains("id") && (j.at("id").is_number_integer() || j.at("id").is_string());
      const bool response = usable_id && !j.contains("method") && (j.contains("result") || j.contains("error"));
      if (usable_id && !response) {
        std::string key = j["id"].dump();
        if (expected.count(key) != 0 || key == "\"init\"") unique_ids = false;
        expected[key] = 1;
        ids_in_order.push_back(key);
      }
      transport.client_write(frame_message(body));
      loop.run_until_idle();
    }
  }
  std::map<std::string, int> answered;
  for (const std::string& body : transport.take_sent()) {
    json j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("jsonrpc") || j["jsonrpc"] != "2.0") fail("server wrote a non JSON-RPC message", body);
    if (j.contains("id") && !j.contains("method")) ++answered[j["id"].dump()];
  }
  if (body_mode && unique_ids && !exited) {
    for (const auto& id : ids_in_order) {
      if (answered[id] != 1) fail("request not answered exactly once", "id " + id + " answered " + std::to_string(answered[id]) + " times");
    }
  }
  server.reset();
  loop.run_until_idle();
  return 0;
}
