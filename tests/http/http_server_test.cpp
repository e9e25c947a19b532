// `rapide serve-http` as a real process: malformed requests get 4xx with a JSON error body and the
// server keeps serving; FIM special tokens in prompts are parsed; the bearer token is enforced.
#include "child.h"
#include "model_fixture.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <csignal>

namespace rapide::lsp {
namespace {

using nlohmann::json;
using rapide::testing::Child;
using rapide::testing::HttpReply;
using rapide::testing::http_request;
using rapide::testing::raw_http;
using rapide::testing::TempDir;
using namespace std::chrono_literals;

struct Server {
  Server(const TempDir& dir, const std::filesystem::path& model, std::vector<std::string> extra = {},
         std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {RAPIDE_BINARY, "serve-http", "--model", model.string(), "--listen",
                                     "127.0.0.1:0", "--threads", "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child = std::make_unique<Child>(argv, dir.path() / "serve-http.err", env);
    const std::string url = rapide::testing::read_listen_url(*child);
    if (!url.empty()) port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  }
  std::unique_ptr<Child> child;
  std::uint16_t port = 0;
};

// A 4xx with {"error": {"message": <non-empty>, "type": ...}} whose message mentions `needle`.
void expect_json_error(const HttpReply& r, int status, const std::string& needle, const std::string& what) {
  EXPECT_EQ(r.status, status) << what << ": " << r.headers << "\n" << r.body;
  const json j = json::parse(r.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << what << ": body is not JSON: " << r.body;
  ASSERT_TRUE(j.contains("error") && j.at("error").is_object()) << what << ": " << r.body;
  const std::string msg = j.at("error").value("message", "");
  EXPECT_NE(msg.find(needle), std::string::npos) << what << ": message '" << msg << "' lacks '" << needle << "'";
  EXPECT_NE(r.headers.find("application/json"), std::string::npos) << what;
}

void expect_healthy(std::uint16_t port) {
  const auto r = raw_http(port, http_request("GET", "/health", ""));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).value("status", ""), "ok");
}

TEST(ServeHttp, MalformedRequestsGetJsonErrorsAndTheServerKeepsServing) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  TempDir dir;
  Server s(dir, model, {"--max-body-bytes", "4096", "--read-timeout-ms", "1500"});
  ASSERT_NE(s.port, 0) << s.child->stderr_text();
  const auto post = [&](const std::string& body) { return raw_http(s.port, http_request("POST", "/v1/completions", body)); };

  expect_json_error(post("{\"prompt\": \"x\", "), 400, "not valid JSON", "truncated JSON");
  expect_json_error(post("[1, 2]"), 400, "JSON object", "array body");
  expect_json_error(post("{}"), 400, "prompt", "missing prompt");
  expect_json_error(post(R"({"prompt": 42})"), 400, "'prompt'", "prompt of the wrong type");
  expect_json_error(post(R"({"prompt": "x", "max_tokens": "ten"})"), 400, "max_tokens", "max_tokens string");
  expect_json_error(post(R"({"prompt": "x", "max_tokens": -1})"), 400, "max_tokens", "negative max_tokens");
  expect_json_error(post(R"({"prompt": "x", "temperature": 9})"), 400, "temperature", "temperature out of range");
  expect_json_error(post(R"({"prompt": "x", "stream": "yes"})"), 400, "stream", "stream not a boolean");
  expect_json_error(post(R"({"prompt": "x", "stop": [1]})"), 400, "stop", "stop not strings");
  expect_json_error(post(R"({"prompt": "x", "n": 2})"), 400, "'n'", "n = 2");
  expect_healthy(s.port);

  // Oversized body: announced by Content-Length (answered before it is all read) and sent.
  const std::string big = "{\"prompt\": \"" + std::string(10000, 'a') + "\"}";
  expect_json_error(post(big), 413, "4096", "oversized body");
  expect_json_error(raw_http(s.port, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"), 413,
                    "limit", "huge Content-Length");
  // Bad method and path, broken HTTP.
  expect_json_error(raw_http(s.port, http_request("GET", "/v1/completions", "")), 405, "POST", "GET completions");
  expect_json_error(raw_http(s.port, http_request("DELETE", "/v1/models", "")), 405, "GET", "DELETE models");
  expect_json_error(raw_http(s.port, http_request("GET", "/v2/anything", "")), 404, "/v2/anything", "unknown path");
  expect_json_error(raw_http(s.port, "THIS IS NOT HTTP\r\n\r\n"), 400, "malformed HTTP", "garbage request line");
  expect_json_error(raw_http(s.port, "POST /v1/completions HTTP/1.1\r\nContent-Length: zz\r\n\r\n"), 400,
                    "malformed HTTP", "bad Content-Length");
  // A request that never completes is timed out with 408.
  expect_json_error(raw_http(s.port, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"pro", 10s),
                    408, "not received", "slow body");
  expect_healthy(s.port);

  // And it still completes.
  const auto ok = post(R"({"prompt": "def add(a, b):", "max_tokens": 4, "temperature": 0})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body).at("choices").at(0).value("finish_reason", ""), "length");
  s.child->signal(SIGTERM);
  EXPECT_EQ(s.child->wait(30s), 0);
}

TEST(ServeHttp, BearerTokenIsRequiredWhenConfigured) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  TempDir dir;
  Server s(dir, model, {"--api-key-env", "RAPIDE_TEST_KEY"}, {"RAPIDE_TEST_KEY=s3cret"});
  ASSERT_NE(s.port, 0) << s.child->stderr_text();
  const std::string body = R"({"prompt": "x", "max_tokens": 2})";
  expect_json_error(raw_http(s.port, http_request("POST", "/v1/completions", body)), 401, "Authorization",
                    "missing auth");
  expect_json_error(raw_http(s.port, http_request("POST", "/v1/completions", body, {"Authorization: Bearer nope"})), 401,
                    "invalid API key", "wrong key");
  expect_json_error(raw_http(s.port, http_request("GET", "/v1/models", "", {"Authorization: Basic s3cret"})), 401,
                    "invalid API key", "wrong scheme");
  const auto ok = raw_http(s.port, http_request("POST", "/v1/completions", body, {"Authorization: Bearer s3cret"}));
  EXPECT_EQ(ok.status, 200) << ok.body;
  expect_healthy(s.port);  // /health needs no key (load balancers probe it)
}

TEST(ServeHttp, FimControlTokensInThePromptAreSpecialIds) {
  RAPIDE_REQUIRE_TINY_MODEL(model);
  TempDir dir;
  Server s(dir, model);
  ASSERT_NE(s.port, 0) << s.child->stderr_text();
  // The same FIM request written by the client and built by the server from "suffix" must give
  // the same prompt, so the same greedy output.
  // (The qwen2 vocabulary has repository-level tokens: the engine's FIM template starts with them.)
  const json laid_out = {{"prompt", "<|repo_name|>repo\n<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n<|fim_middle|>"},
                         {"max_tokens", 12},
                         {"temperature", 0}};
  const json with_suffix = {{"prompt", "def add(a, b):\n    "}, {"suffix", "\n"}, {"max_tokens", 12}, {"temperature", 0}};
  const auto a = raw_http(s.port, http_request("POST", "/v1/completions", laid_out.dump()));
  const auto b = raw_http(s.port, http_request("POST", "/v1/completions", with_suffix.dump()));
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(b.status, 200) << b.body;
  const json ja = json::parse(a.body), jb = json::parse(b.body);
  EXPECT_EQ(ja.at("usage").at("prompt_tokens"), jb.at("usage").at("prompt_tokens"));
  EXPECT_EQ(ja.at("choices").at(0).at("text"), jb.at("choices").at(0).at("text"));
  // Tokenized as plain text, "<|fim_prefix|>" alone would be several tokens.
  const json plain = {{"prompt", "<|fim_prefix|>"}, {"max_tokens", 1}, {"temperature", 0}};
  const auto c = raw_http(s.port, http_request("POST", "/v1/completions", plain.dump()));
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_LE(json::parse(c.body).at("usage").value("prompt_tokens", 99), 2);  // [BOS] <|fim_prefix|>
}

}  // namespace
}  // namespace rapide::lsp
