// The features end to end in-process (real server, scheduler with worker threads and adaptive
// debounce, real engine on a generated tiny model): inline completion, typed-ahead cache, the
// typing-burst guarantee, code action + resolve, hover, and a bad model.
#include "lsp_test_util.h"
#include "model_fixture.h"
#include "rapide/lsp/server.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <condition_variable>
#include <functional>
#include <future>
#include <fstream>
#include <map>
#include <thread>

namespace rapide::lsp {
namespace {

using namespace rapide::lsp::testing;
using nlohmann::json;
using namespace std::chrono_literals;

// The server with its loop on a thread, and a blocking client side.
class Session {
 public:
  explicit Session(ServerOptions options) {
    auto logger = std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>());
    server_ = std::make_unique<LspServer>(loop_, transport_, std::move(options), logger);
    server_->start([this](int) { done_ = true; });
    thread_ = std::thread([this] {
      while (!done_) {
        loop_.run_until_idle();
        for (auto& body : transport_.take_sent()) {
          auto m = json::parse(body);
          std::lock_guard lock(mutex_);
          if (m.contains("id") && !m.contains("method")) {
            responses_[m.at("id").dump()] = m;
          } else {
            if (m.contains("id"))  // server request: answer null
              transport_.client_write(frame({{"jsonrpc", "2.0"}, {"id", m.at("id")}, {"result", nullptr}}));
            notes_.push_back(m);
          }
          cv_.notify_all();
        }
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  ~Session() {
    done_ = true;
    thread_.join();
    server_.reset();
  }
  void send(const json& msg) { transport_.client_write(frame(msg)); }
  json wait(int id, std::chrono::milliseconds timeout = 120s) {
    std::unique_lock lock(mutex_);
    const std::string key = json(id).dump();
    cv_.wait_for(lock, timeout, [&] { return responses_.count(key) > 0; });
    return responses_.count(key) ? responses_.at(key) : json("no answer");
  }
  json call(const std::string& method, json params) {
    const int id = next_id_++;
    send(request(id, method, std::move(params)));
    return wait(id);
  }
  std::vector<json> notes() {
    std::lock_guard lock(mutex_);
    return notes_;
  }
  json wait_model() {
    for (int i = 0; i < 2000; ++i) {
      auto st = call("rapide/status", json::object());
      if (st.at("result").at("state") != "loading") return st.at("result");
      std::this_thread::sleep_for(20ms);
    }
    return "timeout";
  }
  LspServer& server() { return *server_; }
  json metrics() { return call("rapide/metrics", json::object()).at("result"); }
  // Polls rapide/metrics until pred holds (or 60 s pass).
  bool wait_metrics(const std::function<bool(const json&)>& pred) {
    for (int i = 0; i < 3000; ++i) {
      if (pred(metrics())) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  int next_id_ = 1000;

 private:
  EventLoop loop_;
  InMemoryTransport transport_{loop_};
  std::unique_ptr<LspServer> server_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, json> responses_;
  std::vector<json> notes_;
};

ServerOptions options_for(const std::string& model) {
  ServerOptions o;
  o.models.model = model;
  o.scheduler.worker_threads = 2;
  o.settings.maxTokens = 12;
  o.settings.enable = {{"*", true}};
  return o;
}

json init_params() {
  auto p = initialize_params();
  p["capabilities"]["window"] = {{"workDoneProgress", true}};
  return p;
}

json pos(int line, int ch) { return {{"line", line}, {"character", ch}}; }

json inline_params(const std::string& uri, int line, int ch) {
  return {{"textDocument", {{"uri", uri}}}, {"position", pos(line, ch)}, {"context", {{"triggerKind", 2}}}};
}

json insert_change(const std::string& uri, int version, int line, int ch, const std::string& text) {
  return notification("textDocument/didChange",
                      {{"textDocument", {{"uri", uri}, {"version", version}}},
                       {"contentChanges", json::array({json{{"range", {{"start", pos(line, ch)}, {"end", pos(line, ch)}}},
                                                           {"text", text}}})}});
}

TEST(Features, InlineCompletionAndTypedAheadCache) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  Session s(options_for(model.string()));
  ASSERT_TRUE(s.call("initialize", init_params()).contains("result"));
  s.send(notification("initialized"));
  ASSERT_EQ(s.wait_model().at("state"), "ready");
  // $/progress was reported while loading.
  bool begin = false, end = false;
  for (const auto& n : s.notes())
    if (n.value("method", "") == "$/progress") {
      EXPECT_EQ(n.at("params").at("token"), "rapide/modelLoad");
      begin |= n.at("params").at("value").at("kind") == "begin";
      end |= n.at("params").at("value").at("kind") == "end";
    }
  EXPECT_TRUE(begin && end);

  const std::string uri = "file:///t/a.py";
  s.send(did_open(uri, "python", "def add(a, b):\n    return a + b\n\nx = \n"));
  auto r = s.call("textDocument/inlineCompletion", inline_params(uri, 3, 4));
  ASSERT_TRUE(r.contains("result")) << r.dump();
  const auto& items = r.at("result").at("items");
  if (items.empty()) GTEST_SKIP() << "the random model produced nothing here; cache not exercised";
  const std::string text = items.at(0).at("insertText").get<std::string>();
  EXPECT_EQ(items.at(0).at("range"), json({{"start", pos(3, 4)}, {"end", pos(3, 4)}}));
  if (text.size() < 2 || text.find('\n') == 0) GTEST_SKIP() << "completion too short for a typed-ahead check";
  // Type the first character of the ghost text: answered from the cache, the rest of it.
  const auto before = s.call("rapide/metrics", json::object()).at("result").at("inlineCompletion");
  s.send(insert_change(uri, 2, 3, 4, text.substr(0, 1)));
  auto r2 = s.call("textDocument/inlineCompletion", inline_params(uri, 3, 5));
  ASSERT_TRUE(r2.contains("result")) << r2.dump();
  ASSERT_EQ(r2.at("result").at("items").size(), 1u);
  EXPECT_EQ(r2.at("result").at("items").at(0).at("insertText"), text.substr(1));
  const auto after = s.call("rapide/metrics", json::object()).at("result").at("inlineCompletion");
  EXPECT_EQ(after.at("cacheHits").get<int>(), before.at("cacheHits").get<int>() + 1);
  EXPECT_EQ(after.at("started"), before.at("started").get<int>() + 0) << "no model call for typed-ahead text";
}

TEST(Features, TypingBurstComputesAtMostOneCompletion) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  auto o = options_for(model.string());
  o.prefetch = false;
  o.settings.maxTokens = 64;
  Session s(o);
  ASSERT_TRUE(s.call("initialize", init_params()).contains("result"));
  s.send(notification("initialized"));
  ASSERT_EQ(s.wait_model().at("state"), "ready");
  const std::string uri = "file:///t/burst.py";
  s.send(did_open(uri, "python", "def f():\n    \n"));
  // 50 keystrokes in 1 s, each followed by the automatic inline completion request an editor sends.
  std::vector<int> ids;
  for (int i = 0; i < 50; ++i) {
    s.send(insert_change(uri, 2 + i, 1, 4 + i, "q"));
    const int id = s.next_id_++;
    ids.push_back(id);
    s.send(request(id, "textDocument/inlineCompletion", inline_params(uri, 1, 5 + i)));
    std::this_thread::sleep_for(20ms);
  }
  int answered = 0, cancelled = 0;
  for (int id : ids) {
    auto r = s.wait(id);
    ASSERT_TRUE(r.is_object()) << id;
    ++answered;
    if (error_code_of(r) == -32800) ++cancelled;
  }
  EXPECT_EQ(answered, 50);
  EXPECT_GE(cancelled, 49);
  const auto m = s.call("rapide/metrics", json::object()).at("result").at("inlineCompletion");
  EXPECT_LE(m.at("finished").get<int>(), 1) << m.dump();
  EXPECT_EQ(m.at("requested"), 50);
}

TEST(Features, CodeActionResolveAndHover) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  Session s(options_for(model.string()));
  ASSERT_TRUE(s.call("initialize", init_params()).contains("result"));
  s.send(notification("initialized"));
  ASSERT_EQ(s.wait_model().at("state"), "ready");
  const std::string uri = "file:///t/fix.py";
  s.send(did_open(uri, "python", "def mean(xs):\n    return sum(xs) / len(xs\n\nprint(mean([1, 2]))\n"));
  const json diag = {{"range", {{"start", pos(1, 4)}, {"end", pos(1, 27)}}},
                     {"severity", 1},
                     {"message", "'(' was never closed"}};
  auto list = s.call("textDocument/codeAction",
                     {{"textDocument", {{"uri", uri}}}, {"range", diag.at("range")}, {"context", {{"diagnostics", {diag}}}}});
  ASSERT_TRUE(list.contains("result")) << list.dump();
  ASSERT_GE(list.at("result").size(), 1u);
  const auto action = list.at("result").at(0);
  EXPECT_EQ(action.at("kind"), "quickfix");
  EXPECT_FALSE(action.contains("edit"));
  auto resolved = s.call("codeAction/resolve", action);
  if (resolved.contains("result")) {
    const auto& r = resolved.at("result");
    ASSERT_TRUE(r.at("edit").at("changes").contains(uri)) << r.dump();
    const bool verified = r.at("data").at("verified").get<bool>();
    EXPECT_EQ(verified, r.at("title").get<std::string>().find("unverified") == std::string::npos);
  } else {
    EXPECT_EQ(error_code_of(resolved), -32803) << resolved.dump();
  }
  // A changed document makes the action stale.
  s.send(insert_change(uri, 2, 3, 0, "# edited\n"));
  auto stale = s.call("codeAction/resolve", action);
  EXPECT_EQ(error_code_of(stale), -32801) << stale.dump();

  auto h1 = s.call("textDocument/hover", {{"textDocument", {{"uri", uri}}}, {"position", pos(0, 5)}});
  ASSERT_TRUE(h1.contains("result")) << h1.dump();
  if (!h1.at("result").is_null()) {
    EXPECT_EQ(h1.at("result").at("contents").at("kind"), "markdown");
  }
  auto h2 = s.call("textDocument/hover", {{"textDocument", {{"uri", uri}}}, {"position", pos(0, 5)}});
  EXPECT_EQ(h2.at("result"), h1.at("result"));
  if (!h1.at("result").is_null()) {
    EXPECT_EQ(s.call("rapide/metrics", json::object()).at("result").at("hover").at("cacheHits"), 1);
  }
}

TEST(Features, BadModelIsReportedAndTheServerKeepsServing) {
  rapide::testing::TempDir dir;
  const auto bad = dir.path() / "bad.gguf";
  { std::ofstream(bad) << "this is not a GGUF file"; }
  Session s(options_for(bad.string()));
  ASSERT_TRUE(s.call("initialize", init_params()).contains("result"));
  s.send(notification("initialized"));
  const auto st = s.wait_model();
  EXPECT_EQ(st.at("state"), "error");
  EXPECT_NE(st.at("message").get<std::string>().find("bad.gguf"), std::string::npos) << st.dump();
  bool shown = false;
  for (int i = 0; i < 200 && !shown; ++i) {
    for (const auto& n : s.notes())
      if (n.value("method", "") == "window/showMessage") shown = true;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(shown);
  s.send(did_open("file:///t/x.py", "python", "x = 1\n"));
  auto h = s.call("textDocument/hover", {{"textDocument", {{"uri", "file:///t/x.py"}}}, {"position", pos(0, 0)}});
  EXPECT_EQ(error_code_of(h), -32803);
  EXPECT_NE(h.dump().find("failed to load"), std::string::npos) << h.dump();
  EXPECT_TRUE(s.call("rapide/metrics", json::object()).contains("result"));
}

json inline_at(Session& s, const std::string& uri, int line, int ch) {
  auto r = s.call("textDocument/inlineCompletion", inline_params(uri, line, ch));
  return r;
}

// Issue 7: "reuse of an in-flight generation when the new request's prefix extends the old one".
// The engine is held (a request whose first token blocks its worker) so the generation is still
// running when the user types its first character: the new request joins it (no second
// generation, no second prefill) and gets the rest of the completion.
TEST(Features, TypingThroughARunningGenerationJoinsIt) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  auto o = options_for(model.string());
  o.prefetch = false;
  o.settings.maxTokens = 16;
  o.scheduler.debounce = DebouncePolicy::none();
  const std::string uri = "file:///t/join.py";
  const std::string text = "def add(a, b):\n    return a + b\n\nx = \n";
  std::string expected;  // the completion at (3, 4): greedy, the same in every server
  {
    Session s0(o);
    ASSERT_TRUE(s0.call("initialize", init_params()).contains("result"));
    s0.send(notification("initialized"));
    ASSERT_EQ(s0.wait_model().at("state"), "ready");
    s0.send(did_open(uri, "python", text));
    auto r = inline_at(s0, uri, 3, 4);
    ASSERT_TRUE(r.contains("result")) << r.dump();
    if (r.at("result").at("items").empty()) GTEST_SKIP() << "the random model completes nothing here";
    expected = r.at("result").at("items").at(0).at("insertText").get<std::string>();
  }
  // The user types the first character (whole UTF-8 sequence) of the completion.
  const auto lead = static_cast<unsigned char>(expected[0]);
  const std::size_t typed_bytes = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  const int typed_units = typed_bytes == 4 ? 2 : 1;  // UTF-16 units: the position moves by these
  if (expected.size() <= typed_bytes || expected[0] == '\n')
    GTEST_SKIP() << "completion too short to type through: " << expected;
  const std::string typed = expected.substr(0, typed_bytes);

  Session s(o);
  ASSERT_TRUE(s.call("initialize", init_params()).contains("result"));
  s.send(notification("initialized"));
  ASSERT_EQ(s.wait_model().at("state"), "ready");
  s.send(did_open(uri, "python", text));
  auto loaded = s.server().models().completion();
  ASSERT_TRUE(loaded && loaded->engine);
  std::promise<void> holding, release;
  std::shared_future<void> released = release.get_future().share();
  inference::engine::GenerateRequest hold;
  hold.prompt = loaded->tokenizer->encode("hold", false, false);
  hold.max_tokens = 1;
  hold.on_token = [&holding, released](const inference::engine::TokenEvent&) {
    holding.set_value();
    released.wait();
    return true;
  };
  auto held = loaded->engine->submit(std::move(hold));
  holding.get_future().wait();

  const int first = s.next_id_++;
  s.send(request(first, "textDocument/inlineCompletion", inline_params(uri, 3, 4)));
  ASSERT_TRUE(s.wait_metrics([](const json& m) { return m.at("inlineCompletion").at("started") == 1; }));
  // The user types the first character of what the model is producing.
  s.send(insert_change(uri, 2, 3, 4, typed));
  const int second = s.next_id_++;
  s.send(request(second, "textDocument/inlineCompletion", inline_params(uri, 3, 4 + typed_units)));
  const bool joined = s.wait_metrics([](const json& m) { return m.at("inlineCompletion").at("joined") == 1; });
  release.set_value();
  held.wait();
  ASSERT_TRUE(joined) << s.metrics().dump();
  auto r2 = s.wait(second);
  ASSERT_TRUE(r2.contains("result")) << r2.dump();
  ASSERT_EQ(r2.at("result").at("items").size(), 1u) << r2.dump();
  EXPECT_EQ(r2.at("result").at("items").at(0).at("insertText"), expected.substr(typed_bytes));
  EXPECT_EQ(error_code_of(s.wait(first)), -32800);
  const auto m = s.metrics().at("inlineCompletion");
  EXPECT_EQ(m.at("started"), 1) << "one generation served both requests: " << m.dump();
  EXPECT_EQ(m.at("joined"), 1) << m.dump();
  EXPECT_EQ(m.at("finished"), 1) << m.dump();
}

// Issue 7: didShowCompletion "accepted and used to warm the cache": the completion that follows
// the shown ghost text is computed ahead, so accepting it and asking again needs no model call.
TEST(Features, DidShowCompletionWarmsTheNextCompletion) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  auto o = options_for(model.string());
  o.prefetch = false;  // warming comes from the notification only
  o.scheduler.debounce = DebouncePolicy::none();
  Session s(o);
  ASSERT_TRUE(s.call("initialize", init_params()).contains("result"));
  s.send(notification("initialized"));
  ASSERT_EQ(s.wait_model().at("state"), "ready");
  const std::string uri = "file:///t/warm.py";
  s.send(did_open(uri, "python", "def add(a, b):\n    return a + b\n\nx = \n"));
  s.send(notification("textDocument/didShowCompletion",
                      {{"textDocument", {{"uri", uri}}},
                       {"item", {{"insertText", "add(1, "}, {"range", {{"start", pos(3, 4)}, {"end", pos(3, 4)}}}}}}));
  ASSERT_TRUE(s.wait_metrics([](const json& m) { return m.at("inlineCompletion").at("prefetched") == 1; }))
      << s.metrics().dump();
  EXPECT_EQ(s.metrics().at("inlineCompletion").at("warmed"), 1);
  // Accept the ghost text, ask at its end.
  s.send(insert_change(uri, 2, 3, 4, "add(1, "));
  auto r = inline_at(s, uri, 3, 11);
  ASSERT_TRUE(r.contains("result")) << r.dump();
  const auto m = s.metrics().at("inlineCompletion");
  if (m.at("cacheHits") == 0) {
    // The warm-up computed an empty completion (random weights): nothing to serve from.
    EXPECT_EQ(m.at("started"), 1) << m.dump();
    GTEST_SKIP() << "the random model completed nothing after the shown text";
  }
  EXPECT_EQ(m.at("cacheHits"), 1) << m.dump();
  EXPECT_EQ(m.at("started"), 0) << "answered from the warmed cache: " << m.dump();
  EXPECT_FALSE(r.at("result").at("items").empty());
}

// Issue 7 hover backlog: hovers waiting for a worker are dropped, not computed, when a newer
// hover supersedes them or their document changes; the time budget starts when the job runs
// (the last hover waits longer than its budget and is still computed in full).
TEST(Features, StaleHoversAreDroppedNotComputed) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  auto o = options_for(model.string());
  o.scheduler.worker_threads = 1;
  o.settings.hoverBudgetMs = 1500;
  Session s(o);
  ASSERT_TRUE(s.call("initialize", init_params()).contains("result"));
  s.send(notification("initialized"));
  ASSERT_EQ(s.wait_model().at("state"), "ready");
  const std::string uri = "file:///t/hover.py";
  s.send(did_open(uri, "python", "def mean(xs):\n    return sum(xs) / len(xs)\n\nprint(mean([1, 2]))\n"));
  // The only worker is busy with a job ahead of the hovers.
  std::promise<void> running, release;
  std::shared_future<void> released = release.get_future().share();
  Task busy;
  busy.priority = inference::engine::priority::kInlineCompletion;
  busy.run = [&running, released] {
    running.set_value();
    released.wait();
  };
  s.server().scheduler().schedule(std::move(busy));
  running.get_future().wait();
  auto hover = [&](int line, int ch) {
    const int id = s.next_id_++;
    s.send(request(id, "textDocument/hover", {{"textDocument", {{"uri", uri}}}, {"position", pos(line, ch)}}));
    return id;
  };
  const int h1 = hover(0, 5);
  const int h2 = hover(1, 6);  // supersedes h1
  s.send(insert_change(uri, 2, 3, 0, "# edited\n"));     // h2 is stale
  const int h3 = hover(0, 5);
  s.metrics();  // the loop has handled everything above
  std::this_thread::sleep_for(2000ms);  // h3 waits longer than its budget
  release.set_value();
  EXPECT_EQ(error_code_of(s.wait(h1)), -32800);
  EXPECT_EQ(error_code_of(s.wait(h2)), -32800);
  auto r3 = s.wait(h3);
  ASSERT_TRUE(r3.contains("result")) << r3.dump();
  const auto m = s.metrics().at("hover");
  EXPECT_EQ(m.at("started"), 1) << "only the current hover is computed: " << m.dump();
  EXPECT_EQ(m.at("dropped"), 2) << m.dump();
  // Had the budget run from the request's arrival (2 s ago, budget 1.5 s), the job would have hit
  // its deadline before the first forward pass: cut, in a few milliseconds.
  EXPECT_TRUE(m.at("cutAtBudget") == 0 || m.at("latency").at("last_ms").get<double>() > 1000.0)
      << "the budget runs from the job's start: " << m.dump();
}

}  // namespace
}  // namespace rapide::lsp
