// The shared daemon: see shared_daemon.h.
#include "shared_daemon.h"

#include "rapide/lsp/model_host.h"
#include "rapide/lsp/transport.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <list>
#include <mutex>
#include <thread>

namespace rapide::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::string hash_hex(const std::vector<std::string>& parts) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (const auto& p : parts) {
    for (unsigned char c : p) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // separator
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// A Unix socket address; errors when the path does not fit sun_path.
Result<sockaddr_un> unix_address(const std::filesystem::path& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string s = path.string();
  if (s.size() >= sizeof a.sun_path)
    return error("socket path '", s, "' is ", s.size(), " bytes; Unix sockets allow at most ", sizeof a.sun_path - 1,
                 " (set XDG_RUNTIME_DIR to a shorter folder)");
  std::memcpy(a.sun_path, s.c_str(), s.size() + 1);
  return a;
}

// A connected socket, or -1 (errno: ENOENT no socket file, ECONNREFUSED nobody listening).
int connect_unix(const std::filesystem::path& path) {
  auto a = unix_address(path);
  if (!a) return -1;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*a), sizeof *a) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Bytes stdin -> socket and socket -> stdout until the daemon closes the session.
int relay(int sock) {
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<char> buf(1 << 16);
  pollfd fds[2] = {{0, POLLIN, 0}, {sock, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents) {
      const ssize_t n = ::read(0, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // The editor is gone: the daemon ends the session when it sees the end of input.
        ::shutdown(sock, SHUT_WR);
        fds[0].fd = -1;
      } else if (!write_all(sock, buf.data(), static_cast<std::size_t>(n))) {
        return 1;
      }
    }
    if (fds[1].revents) {
      const ssize_t n = ::read(sock, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;  // the session ended (after exit, or the daemon went away)
      if (!write_all(1, buf.data(), static_cast<std::size_t>(n))) return 1;
    }
  }
}

// An exclusive flock on `path`, released by the destructor (O_CLOEXEC: a spawned daemon does not
// inherit it).
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Starts `rapide serve <args> --daemon SOCKET --log-file LOG` detached (double fork, new session,
// stdin/stdout on /dev/null, stderr to the log).
Status spawn_daemon(const std::vector<std::string>& daemon_args, const SharedPaths& paths) {
  std::vector<std::string> argv = {"rapide", "serve"};
  argv.insert(argv.end(), daemon_args.begin(), daemon_args.end());
  argv.insert(argv.end(), {"--daemon", paths.socket.string(), "--log-file", paths.log.string()});
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return error("cannot start the daemon: fork: ", std::strerror(errno));
  if (pid == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    if (::chdir("/") != 0) ::_exit(126);
    const int nul = ::open("/dev/null", O_RDWR);
    const int log = ::open(paths.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(nul, 0);
    ::dup2(nul, 1);
    ::dup2(log >= 0 ? log : nul, 2);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    ::execv("/proc/self/exe", args.data());
    std::fprintf(stderr, "rapide: cannot start the daemon: exec /proc/self/exe: %s\n", std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);  // the intermediate child exits at once
  return {};
}

}  // namespace

Result<std::filesystem::path> shared_dir() {
  std::filesystem::path dir;
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  struct stat st{};
  if (xdg && *xdg && ::stat(xdg, &st) == 0 && S_ISDIR(st.st_mode)) {
    dir = std::filesystem::path(xdg) / "rapide";
  } else {
    dir = std::filesystem::path("/tmp") / ("rapide-" + std::to_string(::getuid()));
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return error("cannot create the daemon folder '", dir.string(), "': ", std::strerror(errno));
  if (::lstat(dir.c_str(), &st) != 0) return error("daemon folder '", dir.string(), "': ", std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return error("daemon folder '", dir.string(), "' is not a directory (a symlink?); remove it");
  if (st.st_uid != ::getuid())
    return error("daemon folder '", dir.string(), "' belongs to uid ", st.st_uid, ", not to you (uid ", ::getuid(),
                 "); remove it or set XDG_RUNTIME_DIR");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return error("daemon folder '", dir.string(), "' has mode ", mode, "; expected 0700 (other users could reach your "
                 "daemon): chmod 700 it");
  }
  return dir;
}

Result<SharedPaths> shared_paths(const std::vector<std::string>& settings) {
  auto dir = shared_dir();
  if (!dir) return dir.error();
  const std::string key = hash_hex(settings);
  SharedPaths p;
  p.dir = *dir;
  p.socket = *dir / ("daemon-" + key + ".sock");
  p.lock = *dir / ("daemon-" + key + ".lock");
  p.log = *dir / ("daemon-" + key + ".log");
  p.pid = *dir / ("daemon-" + key + ".pid");
  if (auto a = unix_address(p.socket); !a) return a.error();
  return p;
}

int run_shared_client(const std::vector<std::string>& daemon_args, const std::vector<std::string>& key) {
  auto paths = shared_paths(key);
  if (!paths) {
    std::fprintf(stderr, "rapide serve --shared: %s\n", paths.message().c_str());
    return 2;
  }
  int sock = connect_unix(paths->socket);
  if (sock < 0) {
    // Nobody serves these settings (or a dead daemon left its socket): one client starts the
    // daemon while the others wait on the lock, then find its socket.
    FileLock lock(paths->lock);
    if (!lock.held()) {
      std::fprintf(stderr, "rapide serve --shared: cannot lock '%s': %s\n", paths->lock.c_str(), std::strerror(errno));
      return 2;
    }
    sock = connect_unix(paths->socket);
    if (sock < 0) {
      std::error_code ec;
      std::filesystem::remove(paths->socket, ec);  // stale: nobody accepts on it
      if (Status s = spawn_daemon(daemon_args, *paths); !s) {
        std::fprintf(stderr, "rapide serve --shared: %s\n", s.message().c_str());
        return 2;
      }
      const auto deadline = Clock::now() + std::chrono::seconds(30);
      while ((sock = connect_unix(paths->socket)) < 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (sock < 0) {
        std::fprintf(stderr, "rapide serve --shared: the daemon did not open %s within 30 s; see its log %s\n",
                     paths->socket.c_str(), paths->log.c_str());
        return 2;
      }
    }
  }
  const int code = relay(sock);
  ::close(sock);
  return code;
}

int run_daemon(const std::filesystem::path& socket_path, lsp::ServerOptions options,
               std::shared_ptr<spdlog::logger> logger, std::chrono::milliseconds idle_exit) {
  std::signal(SIGPIPE, SIG_IGN);
  lsp::ModelHost::share_models_in_process();
  auto addr = unix_address(socket_path);
  if (!addr) {
    logger->error("{}", addr.message());
    return 2;
  }
  if (const int probe = connect_unix(socket_path); probe >= 0) {
    ::close(probe);
    logger->error("a daemon already serves {}", socket_path.string());
    return 2;
  }
  std::filesystem::path lock_path = socket_path;
  lock_path.replace_extension(".lock");
  std::filesystem::path pid_path = socket_path;
  pid_path.replace_extension(".pid");
  std::error_code ec;
  std::filesystem::remove(socket_path, ec);
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const mode_t old_mask = ::umask(077);
  const bool bound = listener >= 0 && ::bind(listener, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) == 0;
  ::umask(old_mask);
  if (!bound || ::chmod(socket_path.c_str(), 0600) != 0 || ::listen(listener, 64) != 0) {
    logger->error("cannot listen on {}: {}", socket_path.string(), std::strerror(errno));
    return 2;
  }
  std::ofstream(pid_path) << ::getpid() << "\n";
  logger->info("shared daemon (pid {}) listening on {}; exits {} ms after the last client leaves", ::getpid(),
               socket_path.string(), idle_exit.count());

  std::mutex mutex;
  int active = 0;
  std::int64_t served = 0;
  auto last_left = Clock::now();
  struct Session {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Session> sessions;
  auto reap = [&] {
    for (auto it = sessions.begin(); it != sessions.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = sessions.erase(it);
      } else {
        ++it;
      }
    }
  };
  for (;;) {
    pollfd p{listener, POLLIN, 0};
    const int r = ::poll(&p, 1, 50);
    if (r > 0) {
      const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::int64_t n;
      {
        std::lock_guard lock(mutex);
        ++active;
        n = ++served;
      }
      logger->info("session {} started ({} active)", n, active);
      auto done = std::make_shared<std::atomic<bool>>(false);
      sessions.push_back({std::thread([&, fd, n, done] {
                            {
                              lsp::EventLoop loop;
                              auto transport = lsp::make_stdio_transport(loop, fd, fd);
                              int code = 1;
                              {
                                lsp::LspServer server(loop, *transport, options, logger);
                                server.start([&](int c) {
                                  code = c;
                                  loop.stop();
                                });
                                loop.run();
                              }
                              transport.reset();
                              logger->info("session {} ended (exit code {})", n, code);
                            }
                            // The transport's reader thread sees the end of input and leaves
                            // before the descriptor is closed (and reused).
                            ::shutdown(fd, SHUT_RDWR);
                            std::this_thread::sleep_for(std::chrono::milliseconds(50));
                            ::close(fd);
                            std::lock_guard lock(mutex);
                            --active;
                            last_left = Clock::now();
                            done->store(true);
                          }),
                          done});
      continue;
    }
    reap();
    bool idle;
    {
      std::lock_guard lock(mutex);
      idle = active == 0 && Clock::now() - last_left >= idle_exit;
    }
    if (!idle) continue;
    // Leave unless a client is connecting right now; the lock keeps a client from starting a
    // second daemon while this one is on its way out.
    FileLock lock(lock_path);
    pollfd q{listener, POLLIN, 0};
    if (::poll(&q, 1, 0) > 0) continue;
    std::filesystem::remove(socket_path, ec);
    std::filesystem::remove(pid_path, ec);
    ::close(listener);
    break;
  }
  for (auto& s : sessions) s.thread.join();
  logger->info("no client for {} ms: the shared daemon exits after {} sessions", idle_exit.count(), served);
  return 0;
}

}  // namespace rapide::cli
