// Keystroke -> inline completion latency of the real language server: `rapide serve --model F`
// as a child process, spoken to over pipes exactly as an editor does. A scripted typing session:
// the text of a Python function typed one character at a time, each keystroke a didChange
// followed by the automatic textDocument/inlineCompletion an editor sends, and a $/cancelRequest
// for the previous request still pending (as VS Code does). The server debounces, cancels
// superseded work, answers typed-ahead text from its cache and joins running generations.
//
//   lsp_latency --model q05-q8_0.gguf [--rapide build/cli/rapide] [--keystrokes 200]
//               [--interval-ms 120] [--max-tokens 16] [--debounce adaptive]
//               [--pause-every N --pause-ms M]
// --pause-every: after every N keystrokes the typist pauses M ms (a word or a thought), which is
// when a completion that takes longer than the keystroke interval gets answered; without pauses
// on a slow machine every request is superseded by the next keystroke and nothing is measured.
//
// Reports, after one warm-up completion (warm KV cache): p50/p99 of request -> response over the
// requests answered with a result (not cancelled), how many were cancelled, and the server's
// own counters (rapide/metrics: started, finished, cache hits, joined).
#include "rapide/lsp/framing.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

namespace {

// `rapide serve` on pipes; a reader thread parses its frames and timestamps the responses.
class ServerProcess {
 public:
  bool start(const std::vector<std::string>& argv) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) return false;
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      std::perror("exec rapide");
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
    reader_ = std::thread([this] { read_loop(); });
    return true;
  }
  ~ServerProcess() {
    if (in_ >= 0) ::close(in_);
    if (pid_ > 0) {
      for (int i = 0; i < 500; ++i) {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
      }
    }
    if (reader_.joinable()) reader_.join();
    if (out_ >= 0) ::close(out_);
  }
  void write(const json& msg) {
    const std::string bytes = rapide::lsp::frame_message(msg.dump());
    std::lock_guard lock(write_mutex_);
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(in_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) return;
      done += static_cast<std::size_t>(n);
    }
  }
  int request(const std::string& method, json params) {
    const int id = next_id_++;
    {
      std::lock_guard lock(mutex_);
      sent_at_[id] = Clock::now();
    }
    write({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    return id;
  }
  void notify(const std::string& method, json params) {
    write({{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
  }
  // The response, or null when the server went away.
  json wait(int id) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return responses_.count(id) > 0 || eof_; });
    return responses_.count(id) ? responses_.at(id) : json(nullptr);
  }
  bool answered(int id) {
    std::lock_guard lock(mutex_);
    return responses_.count(id) > 0;
  }
  double latency_ms(int id) {
    std::lock_guard lock(mutex_);
    return std::chrono::duration<double, std::milli>(answered_at_.at(id) - sent_at_.at(id)).count();
  }

 private:
  void read_loop() {
    rapide::lsp::MessageReader reader;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) break;
      const auto now = Clock::now();
      reader.feed(std::string_view(buf, static_cast<std::size_t>(n)));
      while (auto e = reader.next()) {
        if (e->kind != rapide::lsp::FrameEvent::Kind::message) continue;
        json m = json::parse(e->text, nullptr, false);
        if (!m.is_object()) continue;
        if (m.contains("id") && m.contains("method")) {  // a server request: answer null
          write({{"jsonrpc", "2.0"}, {"id", m.at("id")}, {"result", nullptr}});
          continue;
        }
        if (!m.contains("id") || !m.at("id").is_number_integer()) continue;
        std::lock_guard lock(mutex_);
        const int id = m.at("id").get<int>();
        answered_at_[id] = now;
        responses_[id] = std::move(m);
        cv_.notify_all();
      }
    }
    std::lock_guard lock(mutex_);
    eof_ = true;
    cv_.notify_all();
  }

  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::thread reader_;
  std::mutex write_mutex_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<int, json> responses_;
  std::map<int, Clock::time_point> sent_at_, answered_at_;
  std::atomic<int> next_id_{1};
  bool eof_ = false;
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

json position(int line, int col) { return {{"line", line}, {"character", col}}; }

}  // namespace

int main(int argc, char** argv) {
  std::string rapide = RAPIDE_BINARY, model, debounce = "adaptive";
  int keystrokes = 200, interval_ms = 120, max_tokens = 16, pause_every = 0, pause_ms = 0;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "lsp_latency: %s needs a value\n", k.c_str());
      return 2;
    }
    const std::string v = argv[i + 1];
    if (k == "--rapide") rapide = v;
    else if (k == "--model") model = v;
    else if (k == "--keystrokes") keystrokes = std::stoi(v);
    else if (k == "--interval-ms") interval_ms = std::stoi(v);
    else if (k == "--max-tokens") max_tokens = std::stoi(v);
    else if (k == "--debounce") debounce = v;
    else if (k == "--pause-every") pause_every = std::stoi(v);
    else if (k == "--pause-ms") pause_ms = std::stoi(v);
    else {
      std::fprintf(stderr, "lsp_latency: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (model.empty() || !std::filesystem::exists(model)) {
    std::fprintf(stderr, "lsp_latency: --model FILE.gguf is required (make one with `rapide make-model`)\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  ServerProcess server;
  if (!server.start({rapide, "serve", "--model", model, "--log-level", "warn", "--debounce", debounce})) {
    std::fprintf(stderr, "lsp_latency: cannot start %s\n", rapide.c_str());
    return 1;
  }
  const auto t_start = Clock::now();
  server.wait(server.request(
      "initialize", {{"processId", nullptr},
                     {"capabilities", {{"textDocument", {{"inlineCompletion", {{"dynamicRegistration", false}}}}}}},
                     {"initializationOptions", {{"maxTokens", max_tokens}, {"enable", {{"*", true}}}}}}));
  server.notify("initialized", json::object());
  for (;;) {
    auto st = server.wait(server.request("rapide/status", json::object()));
    if (st.is_null()) {
      std::fprintf(stderr, "lsp_latency: the server exited\n");
      return 1;
    }
    const auto state = st.at("result").at("state");
    if (state == "ready") break;
    if (state != "loading") {
      std::fprintf(stderr, "lsp_latency: model: %s\n", st.at("result").dump().c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double load_s = std::chrono::duration<double>(Clock::now() - t_start).count();
  const std::string uri = "file:///bench/items.py";
  std::string text = kPrefix;
  server.notify("textDocument/didOpen",
                {{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", text}}}});
  int line = 0, col = 0;
  for (char ch : text)
    if (ch == '\n') ++line;
  // Warm-up: one completion at the start position (fills the engine's KV cache).
  const int warm = server.request("textDocument/inlineCompletion", {{"textDocument", {{"uri", uri}}},
                                                                    {"position", position(line, 0)},
                                                                    {"context", {{"triggerKind", 1}}}});
  server.wait(warm);
  const double warm_ms = server.latency_ms(warm);
  std::vector<int> ids;
  const std::string typed = kTyped;
  int version = 1, client_cancels = 0;
  for (int k = 0; k < keystrokes; ++k) {
    const char ch = typed[static_cast<std::size_t>(k) % typed.size()];
    if (!ids.empty() && !server.answered(ids.back())) {
      server.notify("$/cancelRequest", {{"id", ids.back()}});
      ++client_cancels;
    }
    server.notify("textDocument/didChange",
                  {{"textDocument", {{"uri", uri}, {"version", ++version}}},
                   {"contentChanges",
                    {{{"range", {{"start", position(line, col)}, {"end", position(line, col)}}}, {"text", std::string(1, ch)}}}}});
    if (ch == '\n') {
      ++line;
      col = 0;
    } else {
      ++col;
    }
    ids.push_back(server.request("textDocument/inlineCompletion", {{"textDocument", {{"uri", uri}}},
                                                                   {"position", position(line, col)},
                                                                   {"context", {{"triggerKind", 2}}}}));
    const bool pause = pause_every > 0 && (k + 1) % pause_every == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause ? pause_ms : interval_ms));
  }
  std::vector<double> answered, shown;
  int cancelled = 0, errors = 0;
  for (int id : ids) {
    auto r = server.wait(id);
    if (r.is_null()) {
      std::fprintf(stderr, "lsp_latency: the server exited before answering %d\n", id);
      return 1;
    }
    if (r.contains("error")) {
      (r.at("error").at("code") == -32800 ? cancelled : errors)++;
    } else {
      answered.push_back(server.latency_ms(id));
      if (!r.at("result").at("items").empty()) shown.push_back(server.latency_ms(id));
    }
  }
  const auto m = server.wait(server.request("rapide/metrics", json::object())).at("result").at("inlineCompletion");
  server.wait(server.request("shutdown", nullptr));
  server.notify("exit", nullptr);
  std::printf("model %s (loaded in %.1f s), %d keystrokes every %d ms, max %d tokens, debounce %s\n",
              std::filesystem::path(model).filename().c_str(), load_s, keystrokes, interval_ms, max_tokens,
              debounce.c_str());
  if (pause_every > 0) std::printf("a pause of %d ms after every %d keystrokes\n", pause_ms, pause_every);
  std::printf("warm-up completion: %.0f ms\n", warm_ms);
  std::printf("answered %zu: p50 %.0f ms, p99 %.0f ms; with ghost text %zu: p50 %.0f ms, p99 %.0f ms\n", answered.size(),
              pct(answered, 0.5), pct(answered, 0.99), shown.size(), pct(shown, 0.5), pct(shown, 0.99));
  std::printf("cancelled %d (client sent %d $/cancelRequest), errors %d\n", cancelled, client_cancels, errors);
  std::printf("server metrics: %s\n", m.dump().c_str());
  return errors == 0 ? 0 : 1;
}
