// Transcripts: raw framed input written to the real `rapide serve` over a pipe; every bad
// message gets the right JSON-RPC error and the server keeps answering afterwards.
#include "lsp_test_util.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <random>

namespace rapide::lsp {
namespace {

using namespace rapide::lsp::testing;
using nlohmann::json;
using rapide::testing::run_process;

struct Served {
  int exit_code;
  std::vector<json> msgs;
  std::string err;
};

Served serve(const std::string& input, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {RAPIDE_BINARY, "serve", "--log-level", "debug"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto r = run_process(argv, input, 60);
  return {r.exit_code, parse_frames(r.out), r.err};
}

std::string init() { return frame(request(1, "initialize", initialize_params())) + frame(notification("initialized")); }
std::string bye(int id = 999) { return frame(request(id, "shutdown")) + frame(notification("exit")); }

TEST(Transcript, CleanSessionExitsZero) {
  auto s = serve(init() + bye());
  EXPECT_EQ(s.exit_code, 0) << s.err;
  auto r = response(s.msgs, 1);
  ASSERT_TRUE(r) << s.err;
  const auto& caps = r->at("result").at("capabilities");
  EXPECT_EQ(caps.at("positionEncoding"), "utf-16");
  EXPECT_TRUE(caps.at("inlineCompletionProvider").get<bool>());
  EXPECT_TRUE(caps.at("hoverProvider").get<bool>());
  EXPECT_TRUE(caps.at("codeActionProvider").at("resolveProvider").get<bool>());
  EXPECT_EQ(r->at("result").at("serverInfo").at("name"), "rapide");
  ASSERT_TRUE(response(s.msgs, 999));
  EXPECT_TRUE(response(s.msgs, 999)->at("result").is_null());
}

TEST(Transcript, Utf8EncodingWhenOffered) {
  auto s = serve(frame(request(1, "initialize", initialize_params(true))) + bye());
  auto r = response(s.msgs, 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("result").at("capabilities").at("positionEncoding"), "utf-8");
}

TEST(Transcript, ExitWithoutShutdownExitsOne) {
  auto s = serve(init() + frame(notification("exit")));
  EXPECT_EQ(s.exit_code, 1) << s.err;
}

TEST(Transcript, EndOfInputWithoutExitExitsOne) {
  auto s = serve(init());
  EXPECT_EQ(s.exit_code, 1) << s.err;
  EXPECT_TRUE(response(s.msgs, 1));
}

TEST(Transcript, RequestBeforeInitializeIsRejected) {
  auto s = serve(frame(request(7, "textDocument/hover", {})) + init() + frame(request(8, "rapide/status")) + bye());
  auto r = response(s.msgs, 7);
  ASSERT_TRUE(r);
  EXPECT_EQ(error_code_of(*r), -32002);
  ASSERT_TRUE(response(s.msgs, 8));
  EXPECT_EQ(error_code_of(*response(s.msgs, 8)), 0);
  // editors/protocol.json status shape.
  const nlohmann::json st = response(s.msgs, 8)->at("result");
  EXPECT_EQ(st.at("state"), "no-model");
  EXPECT_TRUE(st.at("memoryBytes").is_number());
  EXPECT_TRUE(st.at("lastLatencyMs").at("inlineCompletion").is_number());
  EXPECT_EQ(s.exit_code, 0);
}

TEST(Transcript, SecondInitializeIsInvalid) {
  auto s = serve(init() + frame(request(2, "initialize", initialize_params())) + bye());
  EXPECT_EQ(error_code_of(*response(s.msgs, 2)), -32600);
}

TEST(Transcript, MalformedHeadersThenServerStillAnswers) {
  const std::string input = init() + "Content-Lenght: 10\r\n\r\n{\"a\":1234}" +  // misspelt
                            "Content-Length: abc\r\n\r\n" +                         // not a number
                            "no colon here\r\n\r\n" +                               // not a header
                            frame(request(2, "rapide/status")) + bye();
  auto s = serve(input);
  const auto errs = null_id_errors(s.msgs);
  // The misspelt header and the bad length are reported; the garbage line after them is
  // skipped while looking for the next Content-Length.
  ASSERT_GE(errs.size(), 2u) << s.err;
  for (const auto& e : errs) EXPECT_EQ(error_code_of(e), -32700) << e.dump();
  auto r = response(s.msgs, 2);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->contains("result"));
  EXPECT_EQ(s.exit_code, 0);
}

TEST(Transcript, InvalidJsonIsAParseError) {
  auto s = serve(init() + frame_message("{\"jsonrpc\": \"2.0\", \"id\": 3, \"method\": ") + frame(request(4, "rapide/status")) + bye());
  const auto errs = null_id_errors(s.msgs);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(error_code_of(errs[0]), -32700);
  EXPECT_NE(errs[0].at("error").at("message").get<std::string>().find("invalid JSON"), std::string::npos);
  EXPECT_FALSE(response(s.msgs, 3));
  EXPECT_TRUE(response(s.msgs, 4));
}

// A number beyond a double made the JSON library throw out_of_range, not parse_error, and the
// server died on it (found by lsp_server_fuzz).
TEST(Transcript, NumberBeyondADoubleIsAParseError) {
  auto s = serve(init() + frame_message("{\"jsonrpc\": \"2.0\", \"id\": 3, \"method\": \"rapide/status\", \"params\": {\"x\": 11e308}}") +
                 frame_message("[1e999]") + frame(request(4, "rapide/status")) + bye());
  const auto errs = null_id_errors(s.msgs);
  ASSERT_EQ(errs.size(), 2u) << s.err;
  for (const auto& e : errs) EXPECT_EQ(error_code_of(e), -32700) << e.dump();
  EXPECT_FALSE(response(s.msgs, 3));
  EXPECT_TRUE(response(s.msgs, 4));
  EXPECT_EQ(s.exit_code, 0);
}

TEST(Transcript, BinaryContentIsAParseError) {
  std::mt19937 rng(42);
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>(rng() & 0xff);
  // A JSON string holding invalid UTF-8 is binary too.
  const std::string bad_utf8 = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"rapide/status\",\"params\":{\"x\":\"\xff\xfe\"}}";
  auto s = serve(init() + frame_message(junk) + frame_message(bad_utf8) + frame(request(6, "rapide/status")) + bye());
  const auto errs = null_id_errors(s.msgs);
  ASSERT_EQ(errs.size(), 2u) << s.err;
  for (const auto& e : errs) EXPECT_EQ(error_code_of(e), -32700);
  EXPECT_TRUE(response(s.msgs, 6));
  EXPECT_EQ(s.exit_code, 0);
}

TEST(Transcript, InvalidRequests) {
  const std::string input =
      init() + frame_message(R"([{"jsonrpc":"2.0","id":10,"method":"rapide/status"}])") +  // batch
      frame_message(R"("just a string")") +                                               // not an object
      frame_message(R"({"jsonrpc":"1.0","id":11,"method":"rapide/status"})") +            // wrong version
      frame_message(R"({"jsonrpc":"2.0","id":12,"method":42})") +                         // method not a string
      frame_message(R"({"jsonrpc":"2.0","id":{"x":1},"method":"rapide/status"})") +      // bad id type
      frame_message(R"({"jsonrpc":"2.0","id":13})") +                                      // neither
      frame_message(R"({"jsonrpc":"2.0","id":14,"method":"rapide/status","params":3})") + // bad params
      frame(request(15, "rapide/status")) + bye();
  auto s = serve(input);
  EXPECT_FALSE(response(s.msgs, 10)) << "batch members must not be executed";
  for (int id : {11, 12, 13, 14}) {
    auto r = response(s.msgs, id);
    ASSERT_TRUE(r) << id;
    EXPECT_EQ(error_code_of(*r), -32600) << r->dump();
  }
  const auto errs = null_id_errors(s.msgs);
  ASSERT_EQ(errs.size(), 3u);  // batch, string, bad id
  for (const auto& e : errs) EXPECT_EQ(error_code_of(e), -32600) << e.dump();
  EXPECT_NE(errs[0].at("error").at("message").get<std::string>().find("batch"), std::string::npos);
  EXPECT_TRUE(response(s.msgs, 15));
}

TEST(Transcript, UnknownMethod) {
  auto s = serve(init() + frame(request(2, "textDocument/teleport", {})) +
                 frame(notification("textDocument/unknownNotification")) + frame(request(3, "rapide/status")) + bye());
  EXPECT_EQ(error_code_of(*response(s.msgs, 2)), -32601);
  EXPECT_TRUE(response(s.msgs, 3));
}

TEST(Transcript, InvalidParamsNameTheJsonPath) {
  auto s = serve(init() + frame(did_open("file:///a.py", "python", "x = 1\n")) +
                 frame(request(2, "textDocument/hover", {{"textDocument", {{"uri", "file:///a.py"}}},
                                                         {"position", {{"line", "zero"}, {"character", 0}}}})) +
                 frame(request(3, "textDocument/inlineCompletion",
                               {{"textDocument", {{"uri", "file:///a.py"}}},
                                {"position", {{"line", 0}, {"character", 0}}},
                                {"context", {{"triggerKind", 7}}}})) +
                 frame(request(4, "textDocument/hover", {{"position", {{"line", 0}, {"character", 0}}}})) + bye());
  auto r2 = response(s.msgs, 2);
  ASSERT_TRUE(r2);
  EXPECT_EQ(error_code_of(*r2), -32602);
  EXPECT_NE(r2->dump().find("params.position.line: expected an integer, got string"), std::string::npos) << r2->dump();
  auto r3 = response(s.msgs, 3);
  EXPECT_EQ(error_code_of(*r3), -32602);
  EXPECT_NE(r3->dump().find("params.context.triggerKind"), std::string::npos) << r3->dump();
  auto r4 = response(s.msgs, 4);
  EXPECT_EQ(error_code_of(*r4), -32602);
  EXPECT_NE(r4->dump().find("params.textDocument: required field is missing"), std::string::npos) << r4->dump();
}

TEST(Transcript, WrongPositionsAndUnknownDocuments) {
  auto hover = [](int id, const std::string& uri, int line, int ch) {
    return frame(request(id, "textDocument/hover",
                         {{"textDocument", {{"uri", uri}}}, {"position", {{"line", line}, {"character", ch}}}}));
  };
  auto s = serve(init() + frame(did_open("file:///a.py", "python", "x = 1\ny = 2\n")) + hover(2, "file:///a.py", 40, 0) +
                 hover(3, "file:///a.py", -1, 0) + hover(4, "file:///nope.py", 0, 0) + bye());
  auto r2 = response(s.msgs, 2);
  EXPECT_EQ(error_code_of(*r2), -32602);
  EXPECT_NE(r2->dump().find("line 40 is past the end"), std::string::npos) << r2->dump();
  EXPECT_EQ(error_code_of(*response(s.msgs, 3)), -32602);
  auto r4 = response(s.msgs, 4);
  EXPECT_EQ(error_code_of(*r4), -32602);
  EXPECT_NE(r4->dump().find("is not open"), std::string::npos);
}

TEST(Transcript, ModelFeaturesWithoutModelGiveAClearError) {
  auto s = serve(init() + frame(did_open("file:///a.py", "python", "def f(x):\n    return x\n")) +
                 frame(request(2, "textDocument/hover",
                               {{"textDocument", {{"uri", "file:///a.py"}}}, {"position", {{"line", 0}, {"character", 4}}}})) +
                 bye());
  auto r = response(s.msgs, 2);
  ASSERT_TRUE(r);
  EXPECT_EQ(error_code_of(*r), -32803);
  EXPECT_NE(r->dump().find("no model loaded"), std::string::npos) << r->dump();
}

TEST(Transcript, FiftyMegabyteDocument) {
  std::string text;
  text.reserve(50u << 20);
  const std::string line = "    value = compute(value, 42)  # a line of a big generated file\n";
  while (text.size() + line.size() <= (50u << 20)) text += line;
  const auto lines = static_cast<int>(text.size() / line.size());
  auto s = serve(init() + frame(did_open("file:///big.py", "python", text)) +
                 frame(notification("textDocument/didChange",
                                    {{"textDocument", {{"uri", "file:///big.py"}, {"version", 2}}},
                                     {"contentChanges",
                                      {{{"range", {{"start", {{"line", lines}, {"character", 0}}},
                                                   {"end", {{"line", lines}, {"character", 0}}}}},
                                        {"text", "tail()\n"}}}}})) +
                 frame(request(2, "textDocument/hover",
                               {{"textDocument", {{"uri", "file:///big.py"}}},
                                {"position", {{"line", lines}, {"character", 2}}}})) +
                 frame(request(3, "rapide/status")) + bye());
  ASSERT_TRUE(response(s.msgs, 2)) << s.err;
  auto st = response(s.msgs, 3);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->at("result").at("documents"), 1);
  EXPECT_EQ(s.exit_code, 0);
}

TEST(Transcript, BadChangeKeepsTheDocumentAndServing) {
  auto s = serve(init() + frame(did_open("file:///a.py", "python", "abc\n")) +
                 frame(notification("textDocument/didChange",
                                    {{"textDocument", {{"uri", "file:///a.py"}, {"version", 2}}},
                                     {"contentChanges",
                                      {{{"range", {{"start", {{"line", 0}, {"character", 3}}},
                                                   {"end", {{"line", 0}, {"character", 1}}}}},
                                        {"text", "x"}}}}})) +
                 frame(notification("textDocument/didChange", {{"textDocument", {{"uri", "file:///a.py"}}}})) +
                 frame(request(2, "rapide/status")) + bye());
  ASSERT_TRUE(response(s.msgs, 2));
  bool logged = false;
  for (const auto& m : s.msgs)
    if (m.is_object() && m.value("method", "") == "window/logMessage") logged = true;
  EXPECT_TRUE(logged) << "a rejected change is reported to the client";
}

TEST(Transcript, RequestsAfterShutdownAreInvalid) {
  auto s = serve(init() + frame(request(2, "shutdown")) + frame(request(3, "rapide/status")) + frame(notification("exit")));
  EXPECT_EQ(error_code_of(*response(s.msgs, 3)), -32600);
  EXPECT_EQ(s.exit_code, 0);
}

TEST(Transcript, StdoutCarriesOnlyProtocol) {
  auto s = serve(init() + frame_message("not json") + bye());
  for (const auto& m : s.msgs) EXPECT_TRUE(m.is_object()) << m.dump();
  EXPECT_FALSE(s.err.empty()) << "logs go to stderr";
}

TEST(Transcript, MetricsCountMessages) {
  auto s = serve(init() + frame_message("bad") + frame(request(2, "rapide/metrics")) + bye());
  auto r = response(s.msgs, 2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("result").at("requestsReceived"), 2);
  EXPECT_GE(r->at("result").at("errorsSent").get<int>(), 1);
}

}  // namespace
}  // namespace rapide::lsp
