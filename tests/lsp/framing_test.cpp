// JSON-RPC framing: partial reads, several messages per read, malformed headers, oversize.
#include "rapide/lsp/framing.h"

#include <gtest/gtest.h>

namespace rapide::lsp {
namespace {

std::vector<FrameEvent> drain(MessageReader& r) {
  std::vector<FrameEvent> out;
  while (auto e = r.next()) out.push_back(std::move(*e));
  return out;
}

TEST(Framing, OneMessage) {
  MessageReader r;
  r.feed(frame_message(R"({"a":1})"));
  auto ev = drain(r);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, FrameEvent::Kind::message);
  EXPECT_EQ(ev[0].text, R"({"a":1})");
  EXPECT_EQ(r.pending_bytes(), 0u);
}

TEST(Framing, ByteByByte) {
  const std::string all = frame_message("{\"x\":\"é\"}") + frame_message("[]");
  MessageReader r;
  std::vector<FrameEvent> ev;
  for (char c : all) {
    r.feed(std::string_view(&c, 1));
    for (auto& e : drain(r)) ev.push_back(std::move(e));
  }
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].text, "{\"x\":\"é\"}");
  EXPECT_EQ(ev[1].text, "[]");
}

TEST(Framing, SeveralMessagesInOneRead) {
  MessageReader r;
  r.feed(frame_message("1") + frame_message("22") + "Content-Length: 3\r\n\r\n33");
  auto ev = drain(r);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].text, "22");
  r.feed("3");
  ev = drain(r);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].text, "333");
}

TEST(Framing, OtherHeadersAndCaseAreAccepted) {
  MessageReader r;
  r.feed("content-length:2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}");
  auto ev = drain(r);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, FrameEvent::Kind::message);
  EXPECT_EQ(ev[0].text, "{}");
}

TEST(Framing, MissingContentLengthIsAnErrorThenResyncs) {
  MessageReader r;
  r.feed("Content-Type: x\r\n\r\n{\"lost\":1}" + frame_message("{}"));
  auto ev = drain(r);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, FrameEvent::Kind::error);
  EXPECT_NE(ev[0].text.find("no Content-Length"), std::string::npos) << ev[0].text;
  EXPECT_EQ(ev[1].kind, FrameEvent::Kind::message);
  EXPECT_EQ(ev[1].text, "{}");
}

TEST(Framing, NonNumericLengthIsAnError) {
  MessageReader r;
  r.feed("Content-Length: 12abc\r\n\r\n" + frame_message("{}"));
  auto ev = drain(r);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, FrameEvent::Kind::error);
  EXPECT_NE(ev[0].text.find("'12abc'"), std::string::npos) << ev[0].text;
  EXPECT_EQ(ev[1].text, "{}");
}

TEST(Framing, BareJsonWithoutHeaderIsAnError) {
  MessageReader r;
  r.feed("{\"jsonrpc\":\"2.0\"}\r\n" + frame_message("{}"));
  auto ev = drain(r);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, FrameEvent::Kind::error);
  EXPECT_EQ(ev[1].text, "{}");
}

TEST(Framing, HeaderWithoutColonIsAnError) {
  MessageReader r;
  r.feed("garbage line\r\n\r\n" + frame_message("{}"));
  auto ev = drain(r);
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev.front().kind, FrameEvent::Kind::error);
  EXPECT_EQ(ev.back().kind, FrameEvent::Kind::message);
  EXPECT_EQ(ev.back().text, "{}");
}

TEST(Framing, OversizeBodyIsSkippedExactly) {
  MessageReader r(/*max_body_bytes=*/10);
  r.feed("Content-Length: 20\r\n\r\n0123456789");
  auto ev = drain(r);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, FrameEvent::Kind::error);
  EXPECT_NE(ev[0].text.find("exceeds the limit of 10"), std::string::npos) << ev[0].text;
  r.feed("0123456789" + frame_message("{}"));
  ev = drain(r);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].text, "{}");
}

TEST(Framing, EndlessHeaderIsCutAtTheLimit) {
  MessageReader r;
  r.feed("X-Pad: " + std::string(MessageReader::kMaxHeaderBytes + 10, 'a'));
  auto ev = drain(r);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, FrameEvent::Kind::error);
  r.feed("\r\n\r\n" + frame_message("{}"));
  ev = drain(r);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().text, "{}");
}

TEST(Framing, BinaryBodyIsDeliveredAsIs) {
  std::string body;
  for (int i = 0; i < 256; ++i) body += static_cast<char>(i);
  MessageReader r;
  r.feed(frame_message(body));
  auto ev = drain(r);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].text, body);
}

}  // namespace
}  // namespace rapide::lsp
