// `rapide serve --shared`: editor sessions (real `rapide serve` processes over stdio) attach to
// one daemon per user and settings, which exits after the last one leaves.
#include "child.h"
#include "model_fixture.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <sys/stat.h>

namespace rapide::lsp {
namespace {

using nlohmann::json;
using rapide::testing::Child;
using rapide::testing::LspPipe;
using rapide::testing::TempDir;
using namespace std::chrono_literals;

const std::string kUri = "file:///work/demo/util.py";
const std::string kText = "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    \n";

// Live (not zombie) processes whose command line holds every one of `needles`.
std::vector<int> processes_with(const std::vector<std::string>& needles) {
  std::vector<int> pids;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(e.path() / "cmdline");
    std::stringstream ss;
    ss << f.rdbuf();
    std::string cmd = ss.str();
    bool all = !cmd.empty();
    for (const auto& n : needles) all = all && cmd.find(n) != std::string::npos;
    if (!all) continue;
    std::ifstream st(e.path() / "stat");
    std::string stat_line;
    std::getline(st, stat_line);
    const auto close = stat_line.rfind(')');
    if (close != std::string::npos && close + 2 < stat_line.size() && stat_line[close + 2] == 'Z') continue;
    pids.push_back(std::stoi(name));
  }
  return pids;
}

struct Editor {
  Editor(const TempDir& dir, const std::string& name, const std::filesystem::path& model, const std::string& runtime_dir) {
    child = std::make_unique<Child>(
        std::vector<std::string>{RAPIDE_BINARY, "serve", "--shared", "--model", model.string(), "--debounce", "none",
                                 "--speculate", "none", "--idle-exit-ms", "700"},
        dir.path() / (name + ".err"), std::vector<std::string>{"XDG_RUNTIME_DIR=" + runtime_dir});
    lsp = std::make_unique<LspPipe>(*child);
  }
  // initialize, wait for the model, one inline completion; the response.
  json session() {
    rapide::testing::lsp_initialize(*lsp, {{"maxTokens", 12}, {"inlineBudgetMs", 60000}});
    for (int i = 0; i < 1000; ++i) {
      auto st = lsp->wait_response(lsp->request("rapide/status", nullptr), 30s);
      if (!st || st->at("result").value("state", "") != "loading") break;
      std::this_thread::sleep_for(20ms);
    }
    lsp->notify("textDocument/didOpen",
                {{"textDocument", {{"uri", kUri}, {"languageId", "python"}, {"version", 1}, {"text", kText}}}});
    auto r = lsp->wait_response(lsp->request("textDocument/inlineCompletion",
                                             {{"textDocument", {{"uri", kUri}}},
                                              {"position", {{"line", 3}, {"character", 4}}},
                                              {"context", {{"triggerKind", 1}}}}),
                                60s);
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

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

TEST(SharedDaemon, TwoEditorsShareOneDaemonWhichExitsAfterBoth) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  TempDir dir;
  const std::string runtime = (dir.path() / "run").string();
  std::filesystem::create_directory(runtime);
  const std::string sockets = runtime + "/rapide";
  const auto daemons = [&] { return processes_with({"--daemon", sockets}); };

  // Both start at once: the lock file lets one of them spawn the daemon.
  Editor a(dir, "a", model, runtime), b(dir, "b", model, runtime);
  json ra, rb;
  std::thread ta([&] { ra = a.session(); });
  std::thread tb([&] { rb = b.session(); });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra.contains("result")) << ra.dump() << a.child->stderr_text();
  ASSERT_TRUE(rb.contains("result")) << rb.dump() << b.child->stderr_text();
  // Same model, same document, greedy: the same answer from the one shared engine.
  EXPECT_EQ(ra.at("result"), rb.at("result"));
  const auto pids = daemons();
  ASSERT_EQ(pids.size(), 1u) << "expected exactly one daemon";
  // The daemon loaded the model once; the second session reused it.
  std::string log;
  for (const auto& e : std::filesystem::directory_iterator(sockets))
    if (e.path().extension() == ".log") {
      std::ifstream f(e.path());
      std::stringstream ss;
      ss << f.rdbuf();
      log += ss.str();
    }
  EXPECT_NE(log.find("already loaded in this process: shared"), std::string::npos) << log;
  // Private files: the folder 0700, the socket 0600.
  struct stat st{};
  ASSERT_EQ(::stat(sockets.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  bool socket_seen = false;
  for (const auto& e : std::filesystem::directory_iterator(sockets))
    if (e.path().extension() == ".sock") {
      ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0777, 0600u);
      socket_seen = true;
    }
  EXPECT_TRUE(socket_seen);

  EXPECT_EQ(a.stop(), 0);
  // One client left: the daemon stays for the other.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(daemons().size(), 1u);
  json again = b.lsp->wait_response(b.lsp->request("rapide/status", nullptr), 10s).value_or(json());
  EXPECT_EQ(again.at("result").value("state", ""), "ready") << again.dump();
  EXPECT_EQ(b.stop(), 0);
  // Both gone: the daemon exits after its grace period and removes its socket.
  EXPECT_TRUE(wait_until([&] { return daemons().empty(); }, 15s)) << "the daemon is still running";
  bool sock_left = false;
  for (const auto& e : std::filesystem::directory_iterator(sockets)) sock_left |= e.path().extension() == ".sock";
  EXPECT_FALSE(sock_left);
}

TEST(SharedDaemon, AStaleSocketFromAKilledDaemonIsReplaced) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  TempDir dir;
  const std::string runtime = (dir.path() / "run").string();
  std::filesystem::create_directory(runtime);
  const std::string sockets = runtime + "/rapide";
  {
    Editor a(dir, "a", model, runtime);
    ASSERT_TRUE(a.session().contains("result"));
    const auto pids = processes_with({"--daemon", sockets});
    ASSERT_EQ(pids.size(), 1u);
    ::kill(pids[0], SIGKILL);  // leaves its socket file behind
    ASSERT_TRUE(wait_until([&] { return processes_with({"--daemon", sockets}).empty(); }, 10s));
    a.child->wait(10s);  // its relay ends with the daemon
  }
  Editor b(dir, "b", model, runtime);
  const json r = b.session();
  ASSERT_TRUE(r.contains("result")) << r.dump() << b.child->stderr_text();
  EXPECT_EQ(processes_with({"--daemon", sockets}).size(), 1u);
  EXPECT_EQ(b.stop(), 0);
  EXPECT_TRUE(wait_until([&] { return processes_with({"--daemon", sockets}).empty(); }, 15s));
}

TEST(SharedDaemon, RefusesAFolderOtherUsersCanReach) {
  TempDir dir;
  const std::string runtime = (dir.path() / "run").string();
  std::filesystem::create_directories(runtime + "/rapide");
  ::chmod((runtime + "/rapide").c_str(), 0755);
  Child c({RAPIDE_BINARY, "serve", "--shared", "--backend", "http://127.0.0.1:9/v1"}, dir.path() / "c.err",
          {"XDG_RUNTIME_DIR=" + runtime});
  c.close_stdin();
  EXPECT_EQ(c.wait(20s), 2);
  EXPECT_NE(c.stderr_text().find("expected 0700"), std::string::npos) << c.stderr_text();
}

}  // namespace
}  // namespace rapide::lsp
