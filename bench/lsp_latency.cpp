// Keystroke -> inline completion latency of the language server, on generated models with real
// shapes (speed does not depend on weight values). A scripted typing session: the text of a
// Python function typed one character at a time, each keystroke a didChange followed by the
// automatic textDocument/inlineCompletion an editor sends; older requests get cancelled by newer
// ones (debounce, supersession), typed-ahead text is answered from the cache.
//
//   lsp_latency --vocab ../shared/vocab/ggml-vocab-qwen2.gguf --preset qwen2.5-coder-0.5b \
//               [--type q8_0] [--keystrokes 200] [--interval-ms 120] [--max-tokens 16]
//
// Reports p50/p99 over the requests that were answered with a completion (not cancelled), the
// counts of cancelled ones and cache hits, after one warm-up request (warm KV cache).
#include "rapide/inference/make_model.h"
#include "rapide/lsp/framing.h"
#include "rapide/lsp/server.h"

#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace lsp = rapide::lsp;

namespace {

std::string frame(const json& j) { return lsp::frame_message(j.dump()); }

class Client {
 public:
  explicit Client(lsp::ServerOptions o) {
    server_ = std::make_unique<lsp::LspServer>(
        loop_, transport_, std::move(o), std::make_shared<spdlog::logger>("b", std::make_shared<spdlog::sinks::null_sink_mt>()));
    server_->start([this](int) { done_ = true; });
    thread_ = std::thread([this] {
      while (!done_) {
        loop_.run_until_idle();
        for (auto& body : transport_.take_sent()) {
          auto m = json::parse(body);
          std::lock_guard lock(mutex_);
          if (m.contains("id") && !m.contains("method")) {
            answered_at_[m.at("id").get<int>()] = Clock::now();
            responses_[m.at("id").get<int>()] = m;
          } else if (m.contains("id")) {
            transport_.client_write(frame({{"jsonrpc", "2.0"}, {"id", m.at("id")}, {"result", nullptr}}));
          }
          cv_.notify_all();
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  ~Client() {
    done_ = true;
    thread_.join();
  }
  int send(const std::string& method, json params) {
    const int id = next_++;
    {
      std::lock_guard lock(mutex_);
      sent_at_[id] = Clock::now();
    }
    transport_.client_write(frame({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}));
    return id;
  }
  void notify(const std::string& method, json params) {
    transport_.client_write(frame({{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}}));
  }
  json wait(int id) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return responses_.count(id) > 0; });
    return responses_.at(id);
  }
  double latency_ms(int id) {
    std::lock_guard lock(mutex_);
    return std::chrono::duration<double, std::milli>(answered_at_.at(id) - sent_at_.at(id)).count();
  }

 private:
  lsp::EventLoop loop_;
  lsp::InMemoryTransport transport_{loop_};
  std::unique_ptr<lsp::LspServer> server_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<int, json> responses_;
  std::map<int, Clock::time_point> sent_at_, answered_at_;
  int next_ = 1;
};

const char* kPrefix = R"(import json
from dataclasses import dataclass


@dataclass
class Item:
    name: str
    price: float
    quantity: int


def load_items(path):
    with open(path) as f:
        return [Item(**row) for row in json.load(f)]


)";

const char* kTyped = R"(def total_price(items, discount=0.0):
    total = 0.0
    for item in items:
        total += item.price * item.quantity
    if discount:
        total *= 1.0 - discount
    return round(total, 2)


def most_expensive(items):
    return max(items, key=lambda item: item.price)
)";

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string vocab, preset = "qwen2.5-coder-0.5b", type = "q8_0", model_path;
  int keystrokes = 200, interval_ms = 120, max_tokens = 16, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--vocab") vocab = v;
    else if (k == "--preset") preset = v;
    else if (k == "--type") type = v;
    else if (k == "--model") model_path = v;
    else if (k == "--keystrokes") keystrokes = std::stoi(v);
    else if (k == "--interval-ms") interval_ms = std::stoi(v);
    else if (k == "--max-tokens") max_tokens = std::stoi(v);
    else if (k == "--threads") threads = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::filesystem::path generated;
  if (model_path.empty()) {
    if (vocab.empty()) {
      std::fprintf(stderr, "--vocab FILE (a tokenizer GGUF) or --model FILE is required\n");
      return 2;
    }
    rapide::inference::MakeModelOptions mo;
    auto dims = rapide::inference::preset_dims(preset, "qwen2");
    auto fmt = rapide::inference::parse_weight_format(type);
    if (!dims || !fmt) {
      std::fprintf(stderr, "%s\n", !dims ? dims.message().c_str() : fmt.message().c_str());
      return 2;
    }
    mo.dims = *dims;
    mo.format = *fmt;
    mo.vocab = vocab;
    mo.seed = 1;
    generated = std::filesystem::temp_directory_path() / ("rapide-bench-" + preset + "-" + type + ".gguf");
    mo.output = generated;
    const auto t0 = Clock::now();
    auto made = rapide::inference::make_model(mo);
    if (!made) {
      std::fprintf(stderr, "make_model: %s\n", made.message().c_str());
      return 1;
    }
    std::printf("generated %s %s: %.2fB parameters in %.1f s\n", preset.c_str(), type.c_str(),
                static_cast<double>(made->parameters) / 1e9,
                std::chrono::duration<double>(Clock::now() - t0).count());
    model_path = generated.string();
  }
  lsp::ServerOptions o;
  o.models.model = model_path;
  o.models.n_threads = threads;
  o.settings.maxTokens = max_tokens;
  o.settings.enable = {{"*", true}};
  o.scheduler.worker_threads = 2;
  {
    Client c(o);
    c.wait(c.send("initialize", {{"processId", nullptr}, {"capabilities", json::object()}}));
    c.notify("initialized", json::object());
    for (;;) {
      auto st = c.wait(c.send("rapide/status", json::object()));
      if (st.at("result").at("state") == "ready") break;
      if (st.at("result").at("state") == "error") {
        std::fprintf(stderr, "model: %s\n", st.at("result").dump().c_str());
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const std::string uri = "file:///bench/items.py";
    std::string text = kPrefix;
    c.notify("textDocument/didOpen", {{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", text}}}});
    int line = 0, col = 0;
    for (char ch : text)
      if (ch == '\n') ++line;
    // Warm-up: one completion at the start position (fills the engine's KV cache).
    auto warm = c.send("textDocument/inlineCompletion", {{"textDocument", {{"uri", uri}}},
                                                          {"position", {{"line", line}, {"character", 0}}},
                                                          {"context", {{"triggerKind", 1}}}});
    c.wait(warm);
    std::printf("warm-up completion: %.0f ms\n", c.latency_ms(warm));
    std::vector<int> ids;
    const std::string typed = kTyped;
    int version = 1;
    for (int k = 0; k < keystrokes; ++k) {
      const char ch = typed[static_cast<std::size_t>(k) % typed.size()];
      c.notify("textDocument/didChange",
               {{"textDocument", {{"uri", uri}, {"version", ++version}}},
                {"contentChanges",
                 {{{"range", {{"start", {{"line", line}, {"character", col}}}, {"end", {{"line", line}, {"character", col}}}}},
                   {"text", std::string(1, ch)}}}}}});
      if (ch == '\n') {
        ++line;
        col = 0;
      } else {
        ++col;
      }
      ids.push_back(c.send("textDocument/inlineCompletion", {{"textDocument", {{"uri", uri}}},
                                                             {"position", {{"line", line}, {"character", col}}},
                                                             {"context", {{"triggerKind", 2}}}}));
      std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    }
    std::vector<double> answered;
    int cancelled = 0, errors = 0;
    for (int id : ids) {
      auto r = c.wait(id);
      if (r.contains("error")) {
        (r.at("error").at("code") == -32800 ? cancelled : errors)++;
      } else {
        answered.push_back(c.latency_ms(id));
      }
    }
    auto m = c.wait(c.send("rapide/metrics", json::object())).at("result").at("inlineCompletion");
    std::printf("model %s, %d keystrokes every %d ms, max %d tokens\n", std::filesystem::path(model_path).filename().c_str(),
                keystrokes, interval_ms, max_tokens);
    std::printf("answered %zu (p50 %.0f ms, p99 %.0f ms), cancelled %d, errors %d\n", answered.size(), pct(answered, 0.5),
                pct(answered, 0.99), cancelled, errors);
    std::printf("server metrics: %s\n", m.dump().c_str());
  }
  if (!generated.empty()) std::filesystem::remove(generated);
  return 0;
}
