#include "child.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace rapide::testing {

using Clock = std::chrono::steady_clock;

Child::Child(const std::vector<std::string>& argv, const std::filesystem::path& stderr_path,
             const std::vector<std::string>& env)
    : err_path_(stderr_path) {
  int in_pipe[2], out_pipe[2];
  if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) throw std::runtime_error("pipe failed");
  ::signal(SIGPIPE, SIG_IGN);
  // Everything the child needs is built before fork(): in a multithreaded test another thread may
  // hold the allocator's lock at fork time, and the child must not allocate before exec.
  std::vector<std::string> env_strings(env.begin(), env.end());  // first: getenv takes the first
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    if (err >= 0) dup2(err, 2);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err}) close(fd);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  in_ = in_pipe[1];
  out_ = out_pipe[0];
}

Child::~Child() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
  if (in_ >= 0) close(in_);
  if (out_ >= 0) close(out_);
}

bool Child::write(const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::write(in_, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += static_cast<std::size_t>(w);
  }
  return true;
}

void Child::close_stdin() {
  if (in_ >= 0) close(in_);
  in_ = -1;
}

bool Child::fill(Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{out_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    char buf[65536];
    const ssize_t got = ::read(out_, buf, sizeof buf);
    if (got <= 0) return false;
    buffer_.append(buf, static_cast<std::size_t>(got));
    return true;
  }
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<std::string> Child::read_exactly(std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (buffer_.size() < n)
    if (!fill(deadline)) return std::nullopt;
  std::string out = buffer_.substr(0, n);
  buffer_.erase(0, n);
  return out;
}

void Child::signal(int sig) {
  if (!status_) ::kill(pid_, sig);
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (Clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string Child::stderr_text() const {
  std::ifstream f(err_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string read_listen_url(Child& server, std::chrono::milliseconds timeout) {
  auto line = server.read_line(timeout);
  if (!line) return {};
  const auto at = line->find("http://");
  if (at == std::string::npos) return {};
  const auto end = line->find(' ', at);
  return line->substr(at, end == std::string::npos ? std::string::npos : end - at);
}

HttpReply raw_http(std::uint16_t port, const std::string& raw, std::chrono::milliseconds timeout) {
  HttpReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return reply;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return reply;
  }
  std::size_t sent = 0;
  while (sent < raw.size()) {
    const ssize_t w = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (w <= 0) break;  // the server may answer (413) and close before reading everything
    sent += static_cast<std::size_t>(w);
  }
  std::string in;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    // Complete when the headers and Content-Length bytes of body are in.
    const auto head_end = in.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      std::string head = in.substr(0, head_end);
      std::string lower = head;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto cl = lower.find("content-length:");
      if (cl != std::string::npos) {
        const std::size_t n = std::stoul(head.substr(cl + 15));
        if (in.size() >= head_end + 4 + n) break;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    char buf[65536];
    const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got <= 0) break;
    in.append(buf, static_cast<std::size_t>(got));
  }
  ::close(fd);
  const auto head_end = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) return reply;
  reply.status = std::stoi(in.substr(9, 3));
  reply.headers = in.substr(0, head_end);
  reply.body = in.substr(head_end + 4);
  return reply;
}

std::string http_request(const std::string& method, const std::string& path, const std::string& body,
                         const std::vector<std::string>& extra_headers) {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& h : extra_headers) r += h + "\r\n";
  if (!body.empty() || method == "POST") {
    r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return r + "\r\n" + body;
}

void LspPipe::send(const nlohmann::json& msg) {
  const std::string body = msg.dump();
  child_.write("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

int LspPipe::request(const std::string& method, nlohmann::json params) {
  const int id = next_id_++;
  send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
  return id;
}

void LspPipe::notify(const std::string& method, nlohmann::json params) {
  send({{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
}

std::optional<nlohmann::json> LspPipe::read_message(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t length = 0;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto line = child_.read_line(std::max(left, std::chrono::milliseconds(1)));
    if (!line) return std::nullopt;
    if (!line->empty() && line->back() == '\r') line->pop_back();
    if (line->empty()) break;
    if (line->rfind("Content-Length:", 0) == 0) length = std::stoul(line->substr(15));
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  auto body = child_.read_exactly(length, std::max(left, std::chrono::milliseconds(1)));
  if (!body) return std::nullopt;
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::optional<nlohmann::json> LspPipe::wait_response(int id, std::chrono::milliseconds timeout) {
  for (const auto& r : responses)  // read earlier, while waiting for another id
    if (r.at("id") == id) return r;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto msg = read_message(left);
    if (!msg) return std::nullopt;
    if (msg->contains("method")) {
      if (msg->contains("id")) {
        send({{"jsonrpc", "2.0"}, {"id", msg->at("id")}, {"result", nullptr}});
      } else {
        notifications.push_back(*msg);
      }
      continue;
    }
    if (msg->contains("id")) responses.push_back(*msg);
    if (msg->contains("id") && msg->at("id") == id) return msg;
  }
}

void LspPipe::drain(std::chrono::milliseconds duration) {
  const auto deadline = Clock::now() + duration;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return;
    auto msg = read_message(left);
    if (!msg) return;
    if (msg->contains("method") && msg->contains("id")) {
      send({{"jsonrpc", "2.0"}, {"id", msg->at("id")}, {"result", nullptr}});
    } else if (msg->contains("method")) {
      notifications.push_back(*msg);
    } else if (msg->contains("id")) {
      responses.push_back(*msg);
    }
  }
}

nlohmann::json lsp_initialize(LspPipe& lsp, nlohmann::json initialization_options) {
  const int id = lsp.request("initialize", {{"processId", nullptr},
                                            {"rootUri", nullptr},
                                            {"capabilities", nlohmann::json::object()},
                                            {"initializationOptions", std::move(initialization_options)}});
  auto r = lsp.wait_response(id, std::chrono::seconds(60));
  lsp.notify("initialized", nlohmann::json::object());
  return r ? *r : nlohmann::json();
}

}  // namespace rapide::testing
