// GET /_sim/requests: the requests as the client sent them, with secrets redacted.

#include <gtest/gtest.h>

#include "sim_fixture.hpp"

namespace baton::simserver::testing {
namespace {

class CaptureTest : public SimServerTest {};

const json::object& LastRequest(const json::value& captured) {
  const json::array& list = captured.at("requests").as_array();
  EXPECT_FALSE(list.empty());
  return list.back().as_object();
}

TEST_F(CaptureTest, KeepsBodyAndHeadersAndRedactsKeys) {
  StartServer();
  json::value body = J(R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(OpenAi(body, {{"X-Custom", "v1"}}).status, 200);
  json::value captured = Get(port(), "/_sim/requests").Json();
  const json::object& r = LastRequest(captured);
  EXPECT_EQ(r.at("method").as_string(), "POST");
  EXPECT_EQ(r.at("path").as_string(), "/v1/chat/completions");
  EXPECT_EQ(r.at("body"), body);
  const json::object& h = r.at("headers").as_object();
  EXPECT_EQ(h.at("x-custom").as_string(), "v1");
  EXPECT_EQ(h.at("authorization").as_string(), "Bearer <redacted>");
  EXPECT_EQ(r.at("key_fp").as_string(), KeyFingerprint("sk-test-key"));
}

TEST_F(CaptureTest, RedactsEveryProtocolsKey) {
  StartServer();
  ASSERT_EQ(Anthropic(J(R"({"model":"m","max_tokens":10,
                            "messages":[{"role":"user","content":"hi"}]})"))
                .status,
            200);
  ASSERT_EQ(PostJson(port(), "/v1beta/models/g:generateContent?key=secret-g&x=1",
                     J(R"({"contents":[{"parts":[{"text":"hi"}]}]})"))
                .status,
            200);
  json::value captured = Get(port(), "/_sim/requests").Json();
  const json::array& list = captured.at("requests").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].at("headers").at("x-api-key").as_string(), "<redacted>");
  EXPECT_EQ(list[0].at("headers").at("anthropic-version").as_string(), "2023-06-01");
  EXPECT_EQ(list[1].at("target").as_string(),
            "/v1beta/models/g:generateContent?key=<redacted>&x=1");
  EXPECT_EQ(list[1].at("key_fp").as_string(), KeyFingerprint("secret-g"));
  EXPECT_EQ(json::serialize(captured).find("secret-g"), std::string::npos);
  EXPECT_EQ(json::serialize(captured).find("sk-ant-test"), std::string::npos);
}

TEST_F(CaptureTest, SinceSkipsOlderAndControlCallsAreNotKept) {
  StartServer();
  json::value body = J(R"({"model":"a","messages":[{"role":"user","content":"one"}]})");
  ASSERT_EQ(OpenAi(body).status, 200);
  ASSERT_EQ(Get(port(), "/_sim/stats").status, 200);
  ASSERT_EQ(Get(port(), "/healthz").status, 200);
  json::value first = Get(port(), "/_sim/requests").Json();
  ASSERT_EQ(first.at("requests").as_array().size(), 1u);
  int64_t last = first.at("last_seq").as_int64();
  body.as_object()["model"] = "b";
  ASSERT_EQ(OpenAi(body).status, 200);
  json::value later = Get(port(), "/_sim/requests?since=" + std::to_string(last)).Json();
  ASSERT_EQ(later.at("requests").as_array().size(), 1u);
  EXPECT_EQ(LastRequest(later).at("body").at("model").as_string(), "b");

  EXPECT_EQ(Fetch(port(), {.method = "DELETE", .target = "/_sim/requests"}).status, 200);
  EXPECT_TRUE(Get(port(), "/_sim/requests").Json().at("requests").as_array().empty());
  EXPECT_EQ(server_->captures().Since().size(), 0u);
}

TEST_F(CaptureTest, KeepsOnlyTheMostRecentAndCutsLargeBodies) {
  StartServer();
  json::value body = J(R"({"model":"a","messages":[{"role":"user","content":"x"}]})");
  for (size_t i = 0; i < RequestCapture::kCapacity + 3; ++i) {
    body.as_object()["model"] = "m" + std::to_string(i);
    ASSERT_EQ(OpenAi(body).status, 200);
  }
  auto kept = server_->captures().Since();
  ASSERT_EQ(kept.size(), RequestCapture::kCapacity);
  EXPECT_EQ(kept.front().seq, 4);

  std::string big(RequestCapture::kMaxBodyBytes + 10, 'a');
  json::value large = J(R"({"model":"a","messages":[{"role":"user","content":""}]})");
  large.at("messages").as_array()[0].as_object()["content"] = big;
  ASSERT_EQ(OpenAi(large).status, 200);
  json::value captured =
      Get(port(), "/_sim/requests?since=" + std::to_string(kept.back().seq)).Json();
  const json::object& r = LastRequest(captured);
  EXPECT_TRUE(r.at("body_truncated").as_bool());
  EXPECT_EQ(r.at("body").as_string().size(), RequestCapture::kMaxBodyBytes);
}

}  // namespace
}  // namespace baton::simserver::testing
