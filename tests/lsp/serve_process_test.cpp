// The real `rapide serve` process, driven interactively over pipes: its log file survives a
// SIGKILL (flushed per record), `rapide/status` answers "loading" while the model file is still
// being read, shutdown/exit leave promptly even when the model never loads, and
// `--device cuda:N` without CUDA is one clear error with exit status 1.
#include "lsp_test_util.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace rapide::lsp {
namespace {

using namespace rapide::lsp::testing;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A child process with pipes on stdin and stdout (stderr to a file).
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& stderr_path) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0) ::dup2(err, 2);
      ::close(in[1]);
      ::close(out[0]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
  }
  ~Child() {
    if (in_ >= 0) ::close(in_);
    if (out_ >= 0) ::close(out_);
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return pid_ > 0; }
  void write(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(in_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) return;
      done += static_cast<std::size_t>(n);
    }
  }
  // The response with this id, or nullopt after `timeout`.
  std::optional<json> wait_response(int id, std::chrono::milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    for (;;) {
      if (auto r = response(parse_frames(got_), id)) return r;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[8192];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      got_.append(buf, static_cast<std::size_t>(n));
    }
  }
  void kill(int sig) { ::kill(pid_, sig); }
  // Exit status (128 + signal when killed), or -1 after `timeout`.
  int wait_exit(std::chrono::milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  bool reaped_ = false;
  std::string got_;
};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Before the fix only records at info and above flushed the file: the debug line of the last
// request stayed in the stdio buffer and died with the process.
TEST(ServeProcess, LogFileHoldsTheLastLinesAfterSigkill) {
  rapide::testing::TempDir dir;
  const auto log = dir.path() / "server.log";
  Child c({RAPIDE_BINARY, "serve", "--log-file", log.string(), "--log-level", "debug"}, (dir.path() / "err").string());
  ASSERT_TRUE(c.ok());
  c.write(frame(request(1, "initialize", initialize_params())));
  ASSERT_TRUE(c.wait_response(1, std::chrono::seconds(30)));
  c.write(frame(request(2, "rapide/metrics")));
  ASSERT_TRUE(c.wait_response(2, std::chrono::seconds(30)));
  c.kill(SIGKILL);
  EXPECT_EQ(c.wait_exit(std::chrono::seconds(10)), 128 + SIGKILL);
  const std::string text = read_file(log);
  EXPECT_NE(text.find("<-- rapide/metrics (id 2)"), std::string::npos) << text;
}

// rapide/status never waits for the model: a model "file" that is a FIFO nobody writes keeps the
// loader blocked in open() for as long as the test wants, and status answers "loading" at once.
TEST(ServeProcess, StatusAnswersLoadingWhileTheModelLoads) {
  rapide::testing::TempDir dir;
  const auto fifo = dir.path() / "slow.gguf";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Child c({RAPIDE_BINARY, "serve", "--model", fifo.string(), "--log-level", "debug"}, (dir.path() / "err").string());
  ASSERT_TRUE(c.ok());
  c.write(frame(request(1, "initialize", initialize_params())) + frame(notification("initialized")));
  ASSERT_TRUE(c.wait_response(1, std::chrono::seconds(30)));
  const auto t0 = Clock::now();
  c.write(frame(request(2, "rapide/status")));
  auto st = c.wait_response(2, std::chrono::seconds(5));
  ASSERT_TRUE(st) << "rapide/status not answered while the model loads";
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(st->at("result").at("state"), "loading") << st->dump();
  // Model features say it is loading.
  c.write(frame(did_open("file:///x.py", "python", "x = 1\n")) +
          frame(request(3, "textDocument/hover", {{"textDocument", {{"uri", "file:///x.py"}}},
                                                  {"position", {{"line", 0}, {"character", 0}}}})));
  auto h = c.wait_response(3, std::chrono::seconds(5));
  ASSERT_TRUE(h);
  EXPECT_NE(h->dump().find("still loading"), std::string::npos) << h->dump();
  // Unblock the loader with bytes that are not a GGUF file: the load fails, the server goes on.
  {
    // The loader may close its end after reading the magic (EPIPE, not SIGPIPE: the write's
    // only job is to unblock the open).
    const auto old_handler = ::signal(SIGPIPE, SIG_IGN);
    const int w = ::open(fifo.c_str(), O_WRONLY);
    ASSERT_GE(w, 0);
    const std::string junk = "not a gguf file at all";
    const ssize_t wrote = ::write(w, junk.data(), junk.size());
    EXPECT_TRUE(wrote == static_cast<ssize_t>(junk.size()) || (wrote < 0 && errno == EPIPE)) << wrote;
    ::close(w);
    ::signal(SIGPIPE, old_handler);
  }
  json state = "loading";
  for (int i = 10; i < 500 && state == "loading"; ++i) {
    c.write(frame(request(i, "rapide/status")));
    auto s = c.wait_response(i, std::chrono::seconds(5));
    ASSERT_TRUE(s);
    state = s->at("result").at("state");
    if (state == "loading") std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(state, "error");
  c.write(frame(request(900, "shutdown")) + frame(notification("exit")));
  ASSERT_TRUE(c.wait_response(900, std::chrono::seconds(10)));
  EXPECT_EQ(c.wait_exit(std::chrono::seconds(10)), 0);
}

// Issue 7: shutdown and exit while the model load never finishes (a FIFO nobody writes keeps
// the loader blocked in open()) answer and leave promptly with the spec's exit code: the load is
// abandoned. Before the fix the server answered shutdown but then waited for the loader thread
// forever on exit.
int exit_code_while_loading(bool shutdown_first, std::string& log) {
  rapide::testing::TempDir dir;
  const auto fifo = dir.path() / "never.gguf";
  EXPECT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto err = dir.path() / "err";
  Child c({RAPIDE_BINARY, "serve", "--model", fifo.string(), "--log-level", "debug"}, err.string());
  EXPECT_TRUE(c.ok());
  c.write(frame(request(1, "initialize", initialize_params())) + frame(notification("initialized")));
  EXPECT_TRUE(c.wait_response(1, std::chrono::seconds(30)));
  c.write(frame(request(2, "rapide/status")));
  auto st = c.wait_response(2, std::chrono::seconds(10));
  EXPECT_TRUE(st);
  if (st) {
    EXPECT_EQ(st->at("result").at("state"), "loading") << st->dump();
  }
  if (shutdown_first) {
    const auto t0 = Clock::now();
    c.write(frame(request(3, "shutdown")));
    auto sd = c.wait_response(3, std::chrono::seconds(10));
    EXPECT_TRUE(sd) << "shutdown not answered while the model loads";
    if (sd) {
      EXPECT_TRUE(sd->contains("result") && sd->at("result").is_null()) << sd->dump();
    }
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  }
  const auto t0 = Clock::now();
  c.write(frame(notification("exit")));
  int code = c.wait_exit(std::chrono::seconds(10));
  const auto took = Clock::now() - t0;
  EXPECT_LT(took, std::chrono::seconds(2)) << "exit took "
                                           << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                                           << " ms";
  if (code < 0) {  // hung: kill it so the FIFO test does not leak a process
    c.kill(SIGKILL);
    c.wait_exit(std::chrono::seconds(10));
  }
  log = read_file(err);
  return code;
}

TEST(ServeProcess, ShutdownAndExitWhileTheModelNeverLoadsLeaveWithCode0) {
  std::string log;
  EXPECT_EQ(exit_code_while_loading(true, log), 0) << log;
  EXPECT_NE(log.find("model load abandoned"), std::string::npos) << log;
}

TEST(ServeProcess, ExitWithoutShutdownWhileTheModelNeverLoadsLeavesWithCode1) {
  std::string log;
  EXPECT_EQ(exit_code_while_loading(false, log), 1) << log;
}

TEST(ServeProcess, CudaDeviceWithoutCudaIsAClearError) {
  const auto version = rapide::testing::run_process({RAPIDE_BINARY, "--version"});
  if (version.out.find("cuda backend: compiled") != std::string::npos &&
      version.out.find("no device") == std::string::npos)
    GTEST_SKIP() << "this build has a CUDA device: --device cuda:0 is valid here";
  auto r = rapide::testing::run_process({RAPIDE_BINARY, "serve", "--device", "cuda:0"}, "", 30);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--device cuda:0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("CUDA"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << "stdout is protocol only: " << r.out;
  auto bad = rapide::testing::run_process({RAPIDE_BINARY, "serve", "--device", "cuda:x"}, "", 30);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("expected auto, cpu, cuda or cuda:N"), std::string::npos) << bad.err;
  // cpu still works.
  auto cpu = rapide::testing::run_process({RAPIDE_BINARY, "serve", "--device", "cpu"},
                                          frame(request(1, "initialize", initialize_params())) +
                                              frame(request(2, "shutdown")) + frame(notification("exit")),
                                          30);
  EXPECT_EQ(cpu.exit_code, 0) << cpu.err;
}

}  // namespace
}  // namespace rapide::lsp
