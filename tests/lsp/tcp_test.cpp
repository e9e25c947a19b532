// TCP transport: a real socket on loopback, with and without the shared-secret token; and the
// real `rapide serve --listen` process.
#include "lsp_test_util.h"
#include "rapide/lsp/server.h"
#include "test_support.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

namespace rapide::lsp {
namespace {

using namespace rapide::lsp::testing;
using nlohmann::json;

// Connects to 127.0.0.1:port, writes `input`, reads until the peer closes or `until` appears.
std::string talk(std::uint16_t port, const std::string& input, const std::string& until, int timeout_ms = 10000) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::size_t done = 0;
  while (done < input.size()) {
    const ssize_t n = ::write(fd, input.data() + done, input.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (!until.empty() && out.find(until) != std::string::npos) break;
  }
  ::close(fd);
  return out;
}

struct TcpServer {
  explicit TcpServer(std::string token) {
    TcpOptions opts;
    opts.token = std::move(token);
    std::promise<std::uint16_t> port_promise;
    opts.on_listening = [&](std::uint16_t p) { port_promise.set_value(p); };
    auto t = make_tcp_transport(loop, opts);
    EXPECT_TRUE(t) << (t ? "" : t.message());
    transport = std::move(*t);
    ServerOptions so;
    so.scheduler.worker_threads = 0;
    server = std::make_unique<LspServer>(loop, *transport, so,
                                         std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>()));
    server->start([this](int code) {
      exit_code = code;
      loop.stop();
    });
    port = port_promise.get_future().get();
    thread = std::thread([this] { loop.run(); });
  }
  ~TcpServer() {
    loop.stop();
    thread.join();
  }
  EventLoop loop;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<LspServer> server;
  std::thread thread;
  std::uint16_t port = 0;
  std::atomic<int> exit_code{-1};
};

TEST(Tcp, SessionOverLoopback) {
  TcpServer s("");
  const std::string out = talk(s.port, frame(request(1, "initialize", initialize_params())) +
                                           frame(request(2, "rapide/status")) + frame(request(3, "shutdown")) +
                                           frame(notification("exit")),
                               "");
  auto msgs = parse_frames(out);
  ASSERT_TRUE(response(msgs, 1)) << out;
  ASSERT_TRUE(response(msgs, 2)) << out;
  EXPECT_EQ(response(msgs, 2)->at("result").at("server").at("name"), "rapide");
  for (int i = 0; i < 100 && s.exit_code.load() < 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(s.exit_code.load(), 0);
}

TEST(Tcp, TokenRequired) {
  TcpServer s("s3cret");
  const std::string out = talk(s.port, "token wrong\n" + frame(request(1, "initialize", initialize_params())), "");
  EXPECT_TRUE(parse_frames(out).empty()) << out;
}

TEST(Tcp, RightTokenIsAccepted) {
  TcpServer s("s3cret");
  const std::string out =
      talk(s.port, "token s3cret\n" + frame(request(1, "initialize", initialize_params())), "serverInfo");
  auto msgs = parse_frames(out);
  ASSERT_TRUE(response(msgs, 1)) << out;
}

TEST(Tcp, ListenAddressParsing) {
  auto a = parse_listen_address("127.0.0.1:7777");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 7777);
  EXPECT_FALSE(parse_listen_address("127.0.0.1"));
  EXPECT_FALSE(parse_listen_address("127.0.0.1:99999"));
  EXPECT_FALSE(parse_listen_address(":80"));
  EXPECT_NE(parse_listen_address("localhost:x").message().find("'x'"), std::string::npos);
}

TEST(Tcp, BadAddressIsAClearError) {
  EventLoop loop;
  TcpOptions o;
  o.host = "not-an-ip";
  auto t = make_tcp_transport(loop, o);
  ASSERT_FALSE(t);
  EXPECT_NE(t.message().find("not-an-ip"), std::string::npos);
}

}  // namespace
}  // namespace rapide::lsp
