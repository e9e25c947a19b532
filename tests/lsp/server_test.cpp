// The server over the in-memory transport, in synchronous mode: lifecycle, settings,
// configuration round trip, cancellation, exactly-once replies.
#include "lsp_test_util.h"
#include "rapide/lsp/document_info.h"
#include "rapide/lsp/server.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <spdlog/sinks/null_sink.h>

namespace rapide::lsp {
namespace {

using namespace rapide::lsp::testing;
using nlohmann::json;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions opts;
    opts.scheduler.worker_threads = 0;
    opts.scheduler.debounce = DebouncePolicy::none();
    auto logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    server_ = std::make_unique<LspServer>(loop_, transport_, opts, logger);
    server_->start([this](int code) { exit_code_ = code; });
  }

  std::vector<json> roundtrip(const std::string& raw) {
    transport_.client_write(raw);
    loop_.run_until_idle();
    std::vector<json> out;
    for (const auto& body : transport_.take_sent()) out.push_back(json::parse(body));
    return out;
  }

  void initialize(json params = initialize_params()) {
    auto msgs = roundtrip(frame(request(1, "initialize", std::move(params))) + frame(notification("initialized")));
    ASSERT_TRUE(response(msgs, 1));
    init_msgs_ = msgs;
  }

  EventLoop loop_;
  InMemoryTransport transport_{loop_};
  std::unique_ptr<LspServer> server_;
  std::optional<int> exit_code_;
  std::vector<json> init_msgs_;
};

TEST_F(ServerTest, InitializationOptionsSetSettings) {
  auto p = initialize_params();
  // editors/protocol.json: all settings as one object, client-only keys included.
  p["initializationOptions"] = {{"maxTokens", 12},
                                {"enable", {{"*", true}, {"markdown", false}}},
                                {"serverPath", ""},
                                {"modelPath", "/m.gguf"},
                                {"logLevel", "info"}};
  initialize(p);
  const auto& s = server_->assistant().options().settings;
  EXPECT_EQ(s.maxTokens, 12);
  EXPECT_FALSE(s.language_enabled("markdown"));
  EXPECT_TRUE(s.language_enabled("python"));
}

// textDocument/completion is advertised only to clients without inline completion (issue 7: the
// fallback is for them; a client with both would show the model's text twice).
TEST_F(ServerTest, CompletionProviderOnlyForClientsWithoutInlineCompletion) {
  auto p = initialize_params();
  p["capabilities"]["textDocument"] = {{"inlineCompletion", {{"dynamicRegistration", false}}}};
  auto msgs = roundtrip(frame(request(1, "initialize", p)));
  auto r = response(msgs, 1);
  ASSERT_TRUE(r);
  const auto& caps = r->at("result").at("capabilities");
  EXPECT_EQ(caps.at("inlineCompletionProvider"), true);
  EXPECT_FALSE(caps.contains("completionProvider")) << caps.dump();
}

TEST_F(ServerTest, CompletionProviderForClientsWithoutInlineCompletion) {
  auto msgs = roundtrip(frame(request(1, "initialize", initialize_params())));
  auto r = response(msgs, 1);
  ASSERT_TRUE(r);
  const auto& caps = r->at("result").at("capabilities");
  EXPECT_TRUE(caps.contains("completionProvider")) << caps.dump();
  EXPECT_EQ(caps.at("inlineCompletionProvider"), true);
}

TEST_F(ServerTest, BadInitializationOptionsAreInvalidParams) {
  auto p = initialize_params();
  p["initializationOptions"] = {{"rapide", {{"maxTokens", "many"}}}};
  auto msgs = roundtrip(frame(request(1, "initialize", p)));
  auto r = response(msgs, 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(error_code_of(*r), -32602);
  EXPECT_NE(r->dump().find("params.initializationOptions.rapide.maxTokens"), std::string::npos) << r->dump();
  // Still uninitialized: a proper initialize works afterwards.
  initialize();
}

TEST_F(ServerTest, WorkspaceConfigurationIsPulledAndApplied) {
  auto p = initialize_params();
  p["capabilities"]["workspace"] = {{"configuration", true}};
  initialize(p);
  std::optional<json> config_request;
  for (const auto& m : init_msgs_)
    if (m.value("method", "") == "workspace/configuration") config_request = m;
  ASSERT_TRUE(config_request);
  EXPECT_EQ(config_request->at("params").at("items").at(0).at("section"), "rapide");
  roundtrip(frame({{"jsonrpc", "2.0"}, {"id", config_request->at("id")}, {"result", {{{"inlineBudgetMs", 345}}}}}));
  EXPECT_EQ(server_->assistant().options().settings.inlineBudgetMs, 345);
}

TEST_F(ServerTest, DidChangeConfigurationPushesSettings) {
  initialize();
  roundtrip(frame(notification("workspace/didChangeConfiguration", {{"settings", {{"rapide", {{"enable", false}}}}}})));
  EXPECT_FALSE(server_->assistant().options().settings.language_enabled("python"));
  // A wrong type is rejected with a message, the old settings stay.
  auto msgs = roundtrip(
      frame(notification("workspace/didChangeConfiguration", {{"settings", {{"rapide", {{"maxTokens", -4}}}}}})));
  EXPECT_EQ(server_->assistant().options().settings.maxTokens, 128);
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs[0].at("method"), "window/showMessage");
}

TEST_F(ServerTest, IncrementalChangesWithUtf16Positions) {
  initialize();
  // "é" is one UTF-16 unit, "😀" two.
  roundtrip(frame(did_open("file:///t.py", "python", "a = \"é😀x\"\n")));
  roundtrip(frame(notification(
      "textDocument/didChange",
      {{"textDocument", {{"uri", "file:///t.py"}, {"version", 2}}},
       {"contentChanges",
        {{{"range", {{"start", {{"line", 0}, {"character", 8}}}, {"end", {{"line", 0}, {"character", 9}}}}},
          {"text", "y"}}}}})));
  auto snap = server_->scheduler().snapshot("file:///t.py");
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->text(), "a = \"é😀y\"\n");
  EXPECT_EQ(snap->version(), 2);
}

// rapide/document: the server's copy (version, lengths, FNV-1a hash; text on request), which
// bench/soak.mjs compares with the editor's after a long typing session.
TEST_F(ServerTest, DocumentRequestReportsTheServersCopy) {
  initialize();
  roundtrip(frame(did_open("file:///d.py", "python", "a = \"é😀x\"\n")));
  roundtrip(frame(notification(
      "textDocument/didChange",
      {{"textDocument", {{"uri", "file:///d.py"}, {"version", 5}}},
       {"contentChanges",
        {{{"range", {{"start", {{"line", 0}, {"character", 8}}}, {"end", {{"line", 0}, {"character", 9}}}}},
          {"text", "yz\n"}}}}})));
  const std::string expected = "a = \"é😀yz\n\"\n";
  auto msgs = roundtrip(frame(request(7, "rapide/document", {{"textDocument", {{"uri", "file:///d.py"}}}})));
  auto r = response(msgs, 7);
  ASSERT_TRUE(r && r->contains("result")) << (r ? r->dump() : "no answer");
  const auto& d = r->at("result");
  EXPECT_EQ(d.at("uri"), "file:///d.py");
  EXPECT_EQ(d.at("version"), 5);
  EXPECT_EQ(d.at("languageId"), "python");
  EXPECT_EQ(d.at("bytes"), expected.size());
  EXPECT_EQ(d.at("utf16Length"), 13);  // a␠=␠"é + 2 for 😀 + yz\n"\n
  EXPECT_EQ(d.at("lines"), 3);
  // FNV-1a 64 of "a" is af63dc4c8601ec8c (the published test vector).
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  char hash[32];
  std::snprintf(hash, sizeof hash, "fnv1a64:%016llx", static_cast<unsigned long long>(fnv1a64(expected)));
  EXPECT_EQ(d.at("hash"), hash);
  EXPECT_FALSE(d.contains("text"));
  msgs = roundtrip(frame(request(8, "rapide/document", {{"textDocument", {{"uri", "file:///d.py"}}}, {"includeText", true}})));
  r = response(msgs, 8);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("result").at("text"), expected);
  msgs = roundtrip(frame(request(9, "rapide/document", {{"textDocument", {{"uri", "file:///nope.py"}}}})));
  r = response(msgs, 9);
  ASSERT_TRUE(r);
  EXPECT_EQ(error_code_of(*r), -32602) << r->dump();
  EXPECT_NE(r->dump().find("nope.py"), std::string::npos);
}

TEST_F(ServerTest, IncrementalChangesWithUtf8Positions) {
  initialize(initialize_params(true));
  roundtrip(frame(did_open("file:///t.py", "python", "a = \"é😀x\"\n")));
  roundtrip(frame(notification(
      "textDocument/didChange",
      {{"textDocument", {{"uri", "file:///t.py"}, {"version", 2}}},
       {"contentChanges",
        {{{"range", {{"start", {{"line", 0}, {"character", 11}}}, {"end", {{"line", 0}, {"character", 12}}}}},
          {"text", "y"}}}}})));
  EXPECT_EQ(server_->scheduler().snapshot("file:///t.py")->text(), "a = \"é😀y\"\n");
}

TEST_F(ServerTest, CloseForgetsTheDocument) {
  initialize();
  roundtrip(frame(did_open("file:///t.py", "python", "x\n")));
  EXPECT_TRUE(server_->scheduler().snapshot("file:///t.py"));
  roundtrip(frame(notification("textDocument/didClose", {{"textDocument", {{"uri", "file:///t.py"}}}})));
  EXPECT_FALSE(server_->scheduler().snapshot("file:///t.py"));
}

TEST_F(ServerTest, EveryRequestAnsweredExactlyOnce) {
  initialize();
  std::string raw;
  for (int id = 100; id < 140; ++id) raw += frame(request(id, id % 2 ? "rapide/status" : "no/such"));
  raw += frame(request(140, "rapide/metrics"));
  raw += frame(notification("$/cancelRequest", {{"id", 141}}));  // unknown id: ignored
  auto msgs = roundtrip(raw);
  for (int id = 100; id <= 140; ++id) {
    auto r = response(msgs, id);
    ASSERT_TRUE(r) << id;
    EXPECT_TRUE(r->is_object()) << id << " " << r->dump();
  }
}

TEST_F(ServerTest, DuplicateIdWhileInFlightIsRejected) {
  initialize();
  // The first reply is posted, so both frames are dispatched before it is sent.
  auto msgs = roundtrip(frame(request(5, "rapide/status")) + frame(request(5, "rapide/status")));
  int answers = 0, errors = 0;
  for (const auto& m : msgs)
    if (m.contains("id") && m.at("id") == 5) {
      ++answers;
      if (m.contains("error")) ++errors;
    }
  EXPECT_EQ(answers, 2);
  EXPECT_EQ(errors, 1);
}

TEST_F(ServerTest, ExitCodes) {
  initialize();
  roundtrip(frame(request(2, "shutdown")) + frame(notification("exit")));
  ASSERT_TRUE(exit_code_);
  EXPECT_EQ(*exit_code_, 0);
}

TEST_F(ServerTest, TransportCloseEndsTheServer) {
  initialize();
  transport_.client_close();
  loop_.run_until_idle();
  ASSERT_TRUE(exit_code_);
  EXPECT_EQ(*exit_code_, 1);
}

}  // namespace
}  // namespace rapide::lsp
