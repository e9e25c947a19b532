// Test helpers for the HTTP and remote-backend suites: a background child process (stdin/stdout
// pipes, stderr to a file), a raw HTTP exchange over loopback, and an LSP client over the child's
// stdio.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace rapide::testing {

class Child {
 public:
  // Starts argv[0] with `env` (NAME=VALUE) added; stderr goes to `stderr_path`.
  Child(const std::vector<std::string>& argv, const std::filesystem::path& stderr_path,
        const std::vector<std::string>& env = {});
  ~Child();  // SIGKILL if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool write(const std::string& data);
  void close_stdin();
  // The next line of stdout (without '\n'), or nullopt at EOF/timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Bytes of stdout: at least `n` (or nullopt at EOF/timeout).
  std::optional<std::string> read_exactly(std::size_t n, std::chrono::milliseconds timeout);
  void signal(int sig);
  // Exit status (128 + signal when killed), or nullopt when still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  std::string stderr_text() const;

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string buffer_;
  std::filesystem::path err_path_;
  std::optional<int> status_;
};

// `rapide serve-http` on 127.0.0.1 with an ephemeral port: its base URL from the first stdout line.
std::string read_listen_url(Child& server, std::chrono::milliseconds timeout = std::chrono::seconds(60));

struct HttpReply {
  int status = 0;  // 0: no HTTP answer (connection failed or closed early)
  std::string headers;
  std::string body;
};
// Sends `raw` bytes to 127.0.0.1:port and reads until the server closes (or the response with its
// Content-Length is complete).
HttpReply raw_http(std::uint16_t port, const std::string& raw, std::chrono::milliseconds timeout = std::chrono::seconds(20));
std::string http_request(const std::string& method, const std::string& path, const std::string& body,
                         const std::vector<std::string>& extra_headers = {});

// JSON-RPC over the child's stdin/stdout with LSP framing.
class LspPipe {
 public:
  explicit LspPipe(Child& child) : child_(child) {}
  int request(const std::string& method, nlohmann::json params);
  void notify(const std::string& method, nlohmann::json params);
  // Reads until the response to `id` (at once when it was read earlier, while waiting for
  // another id); server requests are answered with null, notifications kept.
  std::optional<nlohmann::json> wait_response(int id, std::chrono::milliseconds timeout);
  // Reads messages for `duration`, keeping notifications (for checks that nothing more comes).
  void drain(std::chrono::milliseconds duration);
  std::vector<nlohmann::json> notifications;
  // Every response read so far, in order (wait_response returns one, but keeps them all here:
  // tests count answers per id).
  std::vector<nlohmann::json> responses;

 private:
  std::optional<nlohmann::json> read_message(std::chrono::milliseconds timeout);
  void send(const nlohmann::json& msg);
  Child& child_;
  int next_id_ = 1;
};

// initialize + initialized with the given initializationOptions; returns the initialize result.
nlohmann::json lsp_initialize(LspPipe& lsp, nlohmann::json initialization_options);

}  // namespace rapide::testing
