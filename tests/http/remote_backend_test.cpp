// The language server's remote backend end to end: real `rapide serve` processes (LSP over stdio)
// against a real `rapide serve-http` on loopback, with a generated tiny qwen2-shaped model (real
// tokenizer with FIM tokens).
#include "child.h"
#include "model_fixture.h"
#include "test_support.h"

#include "rapide/context/completion_context.h"
#include "rapide/context/workspace.h"
#include "rapide/inference/gguf.h"
#include "rapide/inference/tokenizer.h"
#include "rapide/lsp/completion_prompt.h"
#include "rapide/lsp/http_client.h"
#include "rapide/lsp/remote_backend.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <map>
#include <thread>

namespace rapide::lsp {
namespace {

using nlohmann::json;
using rapide::testing::Child;
using rapide::testing::LspPipe;
using rapide::testing::TempDir;
using namespace std::chrono_literals;

const std::string kUri = "file:///work/demo/stats.py";
const std::string kText =
    "import math\n\n"
    "def mean(xs):\n"
    "    total = 0\n"
    "    for x in xs:\n"
    "        total += x\n"
    "    return total / len(xs)\n\n"
    "def variance(xs):\n"
    "    m = mean(xs)\n"
    "    \n"
    "\n"
    "def main():\n"
    "    print(variance([1, 2, 3]))\n"
    "    label = \"One day, Lily went to the park. She saw a big";

std::uint16_t port_of(const std::string& url) {
  const auto colon = url.rfind(':');
  return static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
}

// A `rapide serve-http` child on an ephemeral loopback port.
struct HttpServerProcess {
  HttpServerProcess(const TempDir& dir, const std::filesystem::path& model, std::vector<std::string> extra = {},
                    std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {RAPIDE_BINARY, "serve-http", "--model", model.string(), "--listen",
                                     "127.0.0.1:0", "--threads", "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child = std::make_unique<Child>(argv, dir.path() / "serve-http.err", env);
    url = rapide::testing::read_listen_url(*child);
    if (!url.empty()) port = port_of(url);
  }
  std::unique_ptr<Child> child;
  std::string url;  // http://127.0.0.1:PORT/v1
  std::uint16_t port = 0;
};

json health(std::uint16_t port) {
  auto r = rapide::testing::raw_http(port, rapide::testing::http_request("GET", "/health", ""));
  auto j = json::parse(r.body, nullptr, false);
  return j.is_discarded() ? json() : j;
}

// A `rapide serve` child speaking LSP on stdio.
struct LanguageServer {
  LanguageServer(const TempDir& dir, const std::string& name, std::vector<std::string> args) {
    std::vector<std::string> argv = {RAPIDE_BINARY, "serve", "--debounce", "none", "--log-level", "debug"};
    argv.insert(argv.end(), args.begin(), args.end());
    child = std::make_unique<Child>(argv, dir.path() / (name + ".err"));
    lsp = std::make_unique<LspPipe>(*child);
  }
  // initialize, wait for the model, open the document.
  void start(json options = {{"maxTokens", 24}, {"inlineBudgetMs", 60000}}) {
    rapide::testing::lsp_initialize(*lsp, std::move(options));
    for (int i = 0; i < 600; ++i) {
      auto st = lsp->wait_response(lsp->request("rapide/status", nullptr), 30s);
      ASSERT_TRUE(st);
      if (st->at("result").value("state", "") != "loading") break;
      std::this_thread::sleep_for(20ms);
    }
    lsp->notify("textDocument/didOpen",
                {{"textDocument", {{"uri", kUri}, {"languageId", "python"}, {"version", 1}, {"text", kText}}}});
  }
  json inline_at(int line, int character, std::chrono::milliseconds timeout = 60s) {
    const int id = lsp->request("textDocument/inlineCompletion",
                                {{"textDocument", {{"uri", kUri}}},
                                 {"position", {{"line", line}, {"character", character}}},
                                 {"context", {{"triggerKind", 1}}}});
    auto r = lsp->wait_response(id, timeout);
    return r ? *r : json();
  }
  int stop() {
    auto r = lsp->wait_response(lsp->request("shutdown", nullptr), 30s);
    lsp->notify("exit", nullptr);
    auto code = child->wait(30s);
    return r && code ? *code : -1;
  }
  std::unique_ptr<Child> child;
  std::unique_ptr<LspPipe> lsp;
};

std::string insert_text(const json& response) {
  if (!response.contains("result")) return "<error: " + response.dump() + ">";
  const auto& items = response.at("result").at("items");
  return items.empty() ? std::string() : items.at(0).at("insertText").get<std::string>();
}

std::shared_ptr<spdlog::logger> quiet_logger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

TEST(RemoteBackend, PromptTextTokenizesToTheLocalPrompt) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  auto g = inference::gguf::GgufFile::open(model.string());
  ASSERT_TRUE(g) << g.message();
  auto tok = inference::Tokenizer::from_gguf(**g);
  ASSERT_TRUE(tok) << tok.message();
  RemoteBackendOptions o;
  o.url = "http://127.0.0.1:9/v1";
  auto backend = RemoteBackend::create(o, *tok, quiet_logger());
  ASSERT_TRUE(backend) << backend.message();
  ASSERT_TRUE((*backend)->spelling().fim());

  // One file alone, then a file that uses definitions of other open files (the
  // repository-level layout with <|file_sep|> sections).
  const std::string user = "from lib.util import helper\nfrom lib.consts import SCALE\n\n"
                           "def scaled(a):\n    return helper(a, SCALE) + \n";
  for (const bool with_others : {false, true}) {
    context::Workspace ws;
    ws.open("lib/util.py", "python", "def helper(a, b):\n    return a * b + 1\n", 1);
    ws.open("lib/consts.py", "python", "SCALE = 3\nOFFSET = 0.5", 1);
    const std::string& text = with_others ? user : kText;
    ws.open("app/stats.py", "python", text, 1);
    auto d = ws.snapshot("app/stats.py");
    ASSERT_TRUE(d);
    const std::uint32_t cursor =
        static_cast<std::uint32_t>(with_others ? text.find("+ ") + 2 : text.find("    \n") + 4);
    const auto ctx = context::build_completion_context(ws, *d, cursor, {});
    if (with_others) {
      ASSERT_FALSE(ctx.cross_file.empty()) << "no other file in the context: the case proves nothing";
    }
    const auto local = build_completion_prompt(*tok, ctx);
    const std::string prompt = (*backend)->render_prompt(ctx);
    // What a server does with it (llama.cpp's server and rapide serve-http alike).
    const auto remote = (*tok)->encode(prompt, /*add_special=*/true, /*parse_special=*/true);
    EXPECT_EQ(remote, local.tokens) << "prompt text:\n" << prompt;
  }
}

// Local engine vs remote backend (rapide serve-http with the same model): the same completions.
void expect_same_completions(const std::filesystem::path& model) {
  TempDir dir;
  HttpServerProcess http(dir, model);
  ASSERT_FALSE(http.url.empty()) << http.child->stderr_text();

  LanguageServer local(dir, "local", {"--model", model.string(), "--speculate", "none"});
  LanguageServer remote(dir, "remote", {"--backend", http.url, "--model", model.string()});
  local.start();
  remote.start();
  int non_empty = 0;
  for (auto [line, character] : {std::pair{14, 54}, std::pair{10, 4}, std::pair{3, 13}}) {
    const json a = local.inline_at(line, character);
    const json b = remote.inline_at(line, character);
    ASSERT_TRUE(a.contains("result")) << a.dump() << local.child->stderr_text();
    ASSERT_TRUE(b.contains("result")) << b.dump() << remote.child->stderr_text();
    EXPECT_EQ(insert_text(a), insert_text(b)) << "at " << line << ":" << character;
    if (!insert_text(a).empty()) ++non_empty;
  }
  EXPECT_GT(non_empty, 0) << "the model gave no completion anywhere: the comparison proves nothing";
  EXPECT_GE(health(http.port).value("served", 0), 3) << "the remote server did not serve the completions";
  EXPECT_EQ(local.stop(), 0);
  EXPECT_EQ(remote.stop(), 0);
  // The remote language server never loaded weights: it says so in its log.
  EXPECT_NE(remote.child->stderr_text().find("remote backend"), std::string::npos);
}

TEST(RemoteBackend, SameCompletionAsTheLocalEngineFimModel) {
  RAPIDE_REQUIRE_TINY_MODEL(model);  // qwen2 vocabulary: FIM tokens, repository-level layout
  expect_same_completions(model);
}

TEST(RemoteBackend, SameCompletionAsTheLocalEngineStoriesModel) {
  RAPIDE_REQUIRE_SHARED(model, "models/stories260K.gguf");  // SentencePiece, no FIM: prefix only
  expect_same_completions(model);
}

TEST(RemoteBackend, StreamsAndCancelsOverHttp) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  TempDir dir;
  HttpServerProcess http(dir, model, {"--max-batch", "1", "--max-active", "1"});
  ASSERT_FALSE(http.url.empty()) << http.child->stderr_text();
  auto client = OpenAiClient::create(http.url);
  ASSERT_TRUE(client) << client.message();

  // Streaming: the text arrives in several pieces, and matches the non-streamed answer.
  RemoteCompletionRequest r;
  r.prompt = "def fib(n):";
  r.max_tokens = 24;
  r.temperature = 0;
  int pieces = 0;
  auto streamed = (*client)->complete(r, [&](std::string_view) { return ++pieces > 0; }, {});
  ASSERT_TRUE(streamed) << streamed.message();
  EXPECT_GT(pieces, 1);
  r.stream = false;
  auto whole = (*client)->complete(r, nullptr, {});
  ASSERT_TRUE(whole) << whole.message();
  EXPECT_EQ(streamed->text, whole->text);

  // Cancellation: a long generation is cancelled after a few pieces; the server notices the
  // disconnect, stops generating (its only slot frees up at once) and counts it.
  r.stream = true;
  r.max_tokens = 1900;
  inference::engine::CancelToken cancel;
  int got = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto cut = (*client)->complete(r, [&](std::string_view) {
    if (++got == 3) cancel.cancel();
    return true;
  }, cancel);
  ASSERT_TRUE(cut) << cut.message();
  EXPECT_TRUE(cut->cancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
  json h;
  for (int i = 0; i < 200; ++i) {
    h = health(http.port);
    if (h.value("cancelled", 0) >= 1) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(h.value("cancelled", 0), 1) << h.dump();
  for (int i = 0; i < 200 && health(http.port).value("open_requests", -1) != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(health(http.port).value("open_requests", -1), 0);
  // The slot is free: a short request is answered.
  r.max_tokens = 4;
  auto after = (*client)->complete(r, nullptr, {});
  ASSERT_TRUE(after) << after.message();
}

// DISABLED: the language server never answers a request cancelled ~30 ms after it was sent while
// the HTTP server is busy (log: "cancel request N", then nothing for 10 s). Open bug, see the http
// report. The HTTP half (a client that cancels is seen by the server, which stops generating) is
// covered by StreamsAndCancelsOverHttp.
// A long completion that holds serve-http's only slot (--max-active 1) until stop() or its
// 1900 tokens are done; `running()` says whether it still holds it.
class Blocker {
 public:
  explicit Blocker(const std::string& url) {
    auto client = OpenAiClient::create(url);
    if (!client) return;
    client_ = std::move(*client);
    thread_ = std::thread([this] {
      RemoteCompletionRequest r;
      r.prompt = "once upon a time";
      r.max_tokens = 1900;
      r.temperature = 0;
      (void)client_->complete(r, [](std::string_view) { return true; }, stop_);
      done_ = true;
    });
  }
  ~Blocker() { stop(); }
  bool running() const { return thread_.joinable() && !done_; }
  void stop() {
    stop_.cancel();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::unique_ptr<OpenAiClient> client_;
  inference::engine::CancelToken stop_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Waits until serve-http answers `n` completions at once (queued or generating).
bool wait_open_requests(std::uint16_t port, int n, std::chrono::milliseconds timeout = 20s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (health(port).value("open_requests", 0) == n) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

json inline_params(int line, int character) {
  return {{"textDocument", {{"uri", kUri}}},
          {"position", {{"line", line}, {"character", character}}},
          {"context", {{"triggerKind", 1}}}};
}

// Issue 10. The editor cancels an inline completion while the remote server is busy: the
// request waits at the server (queued behind another client's long completion), nothing streams.
// Before the fix the generation's own cancel token, the one the HTTP client polls, was only
// checked when text arrived, so the language server kept waiting (30 s, the backend timeout)
// and never answered the cancelled request in time.
TEST(RemoteBackend, LspCancelClosesTheHttpRequest) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  TempDir dir;
  // One generation at a time: a long blocker holds the slot, so the editor's request is in flight
  // at the server (queued) when the editor cancels it.
  HttpServerProcess http(dir, model, {"--max-batch", "1", "--max-active", "1"});
  ASSERT_FALSE(http.url.empty()) << http.child->stderr_text();
  LanguageServer remote(dir, "remote", {"--backend", http.url, "--model", model.string()});
  remote.start();
  Blocker blocker(http.url);
  ASSERT_TRUE(wait_open_requests(http.port, 1)) << http.child->stderr_text();
  const int id = remote.lsp->request("textDocument/inlineCompletion", inline_params(10, 4));
  // Wait until the server holds the editor's connection (2 open requests), then cancel.
  ASSERT_TRUE(wait_open_requests(http.port, 2)) << remote.child->stderr_text();
  ASSERT_TRUE(blocker.running()) << "the blocker ended early: the test's premise (a busy server) does not hold";
  const auto t0 = std::chrono::steady_clock::now();
  remote.lsp->notify("$/cancelRequest", {{"id", id}});
  auto resp = remote.lsp->wait_response(id, 10s);
  ASSERT_TRUE(resp) << "no answer to the cancelled request; server log:\n" << remote.child->stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  ASSERT_TRUE(resp->contains("error")) << resp->dump();
  EXPECT_EQ(resp->at("error").at("code"), -32800) << resp->dump();  // RequestCancelled
  json h;
  for (int i = 0; i < 300; ++i) {
    h = health(http.port);
    if (h.value("cancelled", 0) >= 1) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(h.value("cancelled", 0), 1) << "the server did not see the editor's request go: " << h.dump();
  EXPECT_TRUE(blocker.running()) << "the cancel must not depend on the blocker ending";
  blocker.stop();
  EXPECT_EQ(remote.stop(), 0);
}

// Issue 10, every moment: requests cancelled right away (still in the language server's queue),
// a few ms later (on their way: GET /models, connecting) or later (queued at the busy server),
// bursts where each request supersedes the one before, and a request superseded by one that
// joins its generation: every request is answered exactly once, cancelled ones with
// RequestCancelled, promptly; afterwards the server still completes.
TEST(RemoteBackend, LspCancelAtAnyMomentIsAnsweredExactlyOnce) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  TempDir dir;
  HttpServerProcess http(dir, model, {"--max-batch", "1", "--max-active", "1"});
  ASSERT_FALSE(http.url.empty()) << http.child->stderr_text();
  LanguageServer remote(dir, "remote", {"--backend", http.url, "--model", model.string()});
  remote.start();
  Blocker blocker(http.url);
  ASSERT_TRUE(wait_open_requests(http.port, 1)) << http.child->stderr_text();
  std::vector<int> ids;
  const int delays_ms[] = {0, 1, 3, 10, 20, 30, 45, 60, 100, 0, 30, 5};
  for (const int delay : delays_ms) {
    const int id = remote.lsp->request("textDocument/inlineCompletion", inline_params(10, 4));
    ids.push_back(id);
    if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    const auto t0 = std::chrono::steady_clock::now();
    remote.lsp->notify("$/cancelRequest", {{"id", id}});
    auto resp = remote.lsp->wait_response(id, 10s);
    ASSERT_TRUE(resp) << "no answer to request " << id << " cancelled after " << delay << " ms; server log:\n"
                      << remote.child->stderr_text();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "cancelled after " << delay << " ms";
    ASSERT_TRUE(resp->contains("error")) << resp->dump();
    EXPECT_EQ(resp->at("error").at("code"), -32800) << resp->dump();
  }
  // Bursts: each request supersedes the previous one (answered RequestCancelled when the next
  // arrives); the last is cancelled by the editor.
  for (int burst = 0; burst < 3; ++burst) {
    std::vector<int> burst_ids;
    for (int i = 0; i < 6; ++i) {
      burst_ids.push_back(remote.lsp->request("textDocument/inlineCompletion", inline_params(10, 4)));
      std::this_thread::sleep_for(std::chrono::milliseconds(burst * 7));
    }
    remote.lsp->notify("$/cancelRequest", {{"id", burst_ids.back()}});
    const auto t0 = std::chrono::steady_clock::now();
    for (const int id : burst_ids) {
      ASSERT_TRUE(remote.lsp->wait_response(id, 10s))
          << "no answer to burst request " << id << "; server log:\n" << remote.child->stderr_text();
      ids.push_back(id);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "burst " << burst;
  }
  // A request superseded by one that joins its generation (same text, same place): the
  // generation goes on for the joiner, and the superseded request is answered now, not when
  // the generation ends.
  {
    // The connections of the requests above are gone at the server (only the blocker's is left).
    ASSERT_TRUE(wait_open_requests(http.port, 1)) << health(http.port).dump();
    const int first = remote.lsp->request("textDocument/inlineCompletion", inline_params(10, 4));
    ASSERT_TRUE(wait_open_requests(http.port, 2)) << health(http.port).dump();
    const int joiner = remote.lsp->request("textDocument/inlineCompletion", inline_params(10, 4));
    auto resp = remote.lsp->wait_response(first, 3s);
    ASSERT_TRUE(resp) << "the superseded request waits for the joined generation; server log:\n"
                      << remote.child->stderr_text();
    EXPECT_EQ(resp->at("error").at("code"), -32800) << resp->dump();
    EXPECT_EQ(health(http.port).value("open_requests", 0), 2) << "the generation goes on for the joiner";
    EXPECT_FALSE(remote.lsp->wait_response(joiner, 200ms)) << "the joiner is still served by the generation";
    remote.lsp->notify("$/cancelRequest", {{"id", joiner}});
    auto j = remote.lsp->wait_response(joiner, 3s);
    ASSERT_TRUE(j) << remote.child->stderr_text();
    EXPECT_EQ(j->at("error").at("code"), -32800) << j->dump();
    ids.push_back(first);
    ids.push_back(joiner);
    EXPECT_NE(remote.child->stderr_text().find("joined the running generation"), std::string::npos);
  }
  EXPECT_TRUE(blocker.running()) << "the blocker ended early: later requests may not have met a busy server";
  remote.lsp->drain(500ms);
  std::map<int, int> answers;
  for (const auto& r : remote.lsp->responses) {
    if (!r.at("id").is_number_integer()) continue;
    const int id = r.at("id").get<int>();
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) continue;
    ++answers[id];
    ASSERT_TRUE(r.contains("error")) << "a cancelled or superseded request got a result: " << r.dump();
    EXPECT_EQ(r.at("error").at("code"), -32800) << r.dump();
  }
  for (const int id : ids) EXPECT_EQ(answers[id], 1) << "request " << id;
  // Nothing is left waiting at the server, and a request that nobody cancels completes.
  blocker.stop();
  ASSERT_TRUE(wait_open_requests(http.port, 0, 10s)) << health(http.port).dump();
  const json done = remote.inline_at(10, 4, 60s);
  EXPECT_TRUE(done.contains("result")) << done.dump() << remote.child->stderr_text();
  EXPECT_EQ(remote.stop(), 0);
}

// Issue 10: a request cancelled while it waits for a worker (the only one is busy with another
// document's completion, queued at the busy server) is answered at once, not when the worker
// frees up.
TEST(RemoteBackend, LspCancelOfARequestWaitingForAWorkerIsAnsweredAtOnce) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  TempDir dir;
  HttpServerProcess http(dir, model, {"--max-batch", "1", "--max-active", "1"});
  ASSERT_FALSE(http.url.empty()) << http.child->stderr_text();
  LanguageServer remote(dir, "remote", {"--backend", http.url, "--model", model.string(), "--workers", "1"});
  remote.start();
  const std::string other = "file:///work/demo/other.py";
  remote.lsp->notify("textDocument/didOpen",
                     {{"textDocument", {{"uri", other}, {"languageId", "python"}, {"version", 1}, {"text", kText}}}});
  Blocker blocker(http.url);
  ASSERT_TRUE(wait_open_requests(http.port, 1)) << http.child->stderr_text();
  json busy_params = inline_params(10, 4);
  busy_params["textDocument"]["uri"] = other;
  const int busy = remote.lsp->request("textDocument/inlineCompletion", busy_params);
  ASSERT_TRUE(wait_open_requests(http.port, 2)) << remote.child->stderr_text();  // the worker waits on it
  const int queued = remote.lsp->request("textDocument/inlineCompletion", inline_params(10, 4));
  std::this_thread::sleep_for(30ms);
  const auto t0 = std::chrono::steady_clock::now();
  remote.lsp->notify("$/cancelRequest", {{"id", queued}});
  auto resp = remote.lsp->wait_response(queued, 10s);
  ASSERT_TRUE(resp) << remote.child->stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(resp->at("error").at("code"), -32800) << resp->dump();
  EXPECT_FALSE(remote.lsp->wait_response(busy, 100ms)) << "the other document's completion is still waiting";
  EXPECT_TRUE(blocker.running()) << "the test's premise (a busy server) does not hold";
  remote.lsp->notify("$/cancelRequest", {{"id", busy}});
  auto b = remote.lsp->wait_response(busy, 3s);
  ASSERT_TRUE(b) << remote.child->stderr_text();
  EXPECT_EQ(b->at("error").at("code"), -32800) << b->dump();
  blocker.stop();
  EXPECT_EQ(remote.stop(), 0);
}

TEST(RemoteBackend, UnreachableBackendGivesOneMessageAndEmptyCompletions) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  TempDir dir;
  // A port nobody listens on: bind one, note it, close it.
  std::uint16_t dead_port = 0;
  {
    HttpServerProcess http(dir, model);
    ASSERT_FALSE(http.url.empty());
    dead_port = http.port;
    http.child->signal(SIGTERM);
    ASSERT_TRUE(http.child->wait(30s));
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(dead_port) + "/v1";
  LanguageServer remote(dir, "remote", {"--backend", url, "--backend-model", "tiny", "--fim-format", "qwen"});
  remote.start();
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const json r = remote.inline_at(10, 4, 30s);
    ASSERT_TRUE(r.contains("result")) << r.dump() << remote.child->stderr_text();
    EXPECT_TRUE(r.at("result").at("items").empty());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  }
  remote.lsp->drain(300ms);
  int backend_messages = 0;
  for (const auto& n : remote.lsp->notifications)
    if (n.value("method", "") == "window/showMessage" &&
        n.at("params").at("message").get<std::string>().find(url) != std::string::npos) {
      ++backend_messages;
      EXPECT_NE(n.at("params").at("message").get<std::string>().find("unreachable"), std::string::npos) << n.dump();
    }
  EXPECT_EQ(backend_messages, 1);
  // Still serving: status answers and says where completions go.
  auto st = remote.lsp->wait_response(remote.lsp->request("rapide/status", nullptr), 10s);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->at("result").value("device", ""), "remote") << st->dump();
  EXPECT_EQ(remote.stop(), 0);
}

}  // namespace
}  // namespace rapide::lsp
