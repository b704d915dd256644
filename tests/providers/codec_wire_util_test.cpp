// The helpers the wire codecs share: header values, durations and instants providers send,
// the HTTP status table, and MakeCodec.

#include <gtest/gtest.h>

#include "codec_test_util.hpp"
#include "providers/wire_util.hpp"

namespace baton::providers {
namespace {

using namespace wire;  // NOLINT(google-build-using-namespace): the unit under test

TEST(WireUtilTest, FindHeaderIsCaseInsensitiveAndFirstWins) {
  std::vector<http::Header> h = {{"Retry-After", "3"}, {"retry-after", "9"}, {"X-A", ""}};
  EXPECT_EQ(FindHeader(h, "retry-after"), "3");
  EXPECT_EQ(FindHeader(h, "RETRY-AFTER"), "3");
  EXPECT_EQ(FindHeader(h, "x-a"), "");
  EXPECT_EQ(FindHeader(h, "missing"), "");
}

TEST(WireUtilTest, ParseInt) {
  EXPECT_EQ(ParseInt(" 42 "), 42);
  EXPECT_EQ(ParseInt("-7"), -7);
  EXPECT_FALSE(ParseInt(""));
  EXPECT_FALSE(ParseInt("4x"));
  EXPECT_FALSE(ParseInt("99999999999999999999"));
}

TEST(WireUtilTest, OpenAiResetDurations) {
  EXPECT_EQ(ParseResetDuration("6m0s"), 360'000);
  EXPECT_EQ(ParseResetDuration("1s"), 1000);
  EXPECT_EQ(ParseResetDuration("20ms"), 20);
  EXPECT_EQ(ParseResetDuration("8.64s"), 8640);
  EXPECT_EQ(ParseResetDuration("1h2m3s"), 3'723'000);
  EXPECT_EQ(ParseResetDuration("1.5ms"), 2);  // rounded up: never come back too early
  EXPECT_EQ(ParseResetDuration("250us"), 1);
  EXPECT_EQ(ParseResetDuration("0s"), 0);
  EXPECT_EQ(ParseResetDuration("36"), 36'000);   // bare number: seconds
  EXPECT_EQ(ParseResetDuration("36s"), 36'000);  // protobuf Duration JSON (Gemini RetryInfo)
  for (std::string_view bad : {"", "s", "5x", "1..2s", "1s5", "-1s", "ms"}) {
    EXPECT_FALSE(ParseResetDuration(bad)) << bad;
  }
}

TEST(WireUtilTest, Rfc3339) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20Z"), 1'700'000'000'000);
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20.25Z"), 1'700'000'000'250);
  EXPECT_EQ(ParseRfc3339("2023-11-14T23:13:20+01:00"), 1'700'000'000'000);
  EXPECT_EQ(ParseRfc3339("2023-11-14t22:13:20.123456789z"), 1'700'000'000'123);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"), 1'709'164'800'000);
  for (std::string_view bad : {"", "2023-11-14", "2023-11-14T22:13:20", "2023-13-01T00:00:00Z",
                               "2023-11-14T22:13:20Zjunk", "2023-11-14T22:13:20.Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad)) << bad;
  }
}

TEST(WireUtilTest, HttpDate) {
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784'111'777'000);
  EXPECT_EQ(ParseHttpDate("Tue, 14 Nov 2023 22:13:20 GMT"), 1'700'000'000'000);
  EXPECT_FALSE(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"));
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Foo 1994 08:49:37 GMT"));
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 PST"));
}

TEST(WireUtilTest, RetryAfterPrefersMillisecondsThenSecondsThenDate) {
  const int64_t now = 1'700'000'000'000;
  EXPECT_EQ(RetryAfterMs({{"retry-after-ms", "250"}, {"retry-after", "9"}}, now), 250);
  EXPECT_EQ(RetryAfterMs({{"retry-after", "9"}}, now), 9000);
  EXPECT_EQ(RetryAfterMs({{"retry-after", "1.5"}}, now), 1500);
  EXPECT_EQ(RetryAfterMs({{"retry-after", "Tue, 14 Nov 2023 22:13:25 GMT"}}, now), 5000);
  EXPECT_EQ(RetryAfterMs({{"retry-after", "Tue, 14 Nov 2023 22:13:00 GMT"}}, now), 0);
  EXPECT_EQ(RetryAfterMs({{"retry-after-ms", "junk"}, {"retry-after", "2"}}, now), 2000);
  EXPECT_FALSE(RetryAfterMs({{"retry-after", "soon"}}, now));
  EXPECT_FALSE(RetryAfterMs({{"retry-after", "-3"}}, now));
  EXPECT_FALSE(RetryAfterMs({}, now));
}

TEST(WireUtilTest, HttpStatusTable) {
  std::vector<std::pair<int, std::string>> table = {
      {400, "invalid_request"}, {401, "auth"},
      {402, "quota_exhausted"}, {403, "auth"},
      {404, "invalid_request"}, {408, "timeout"},
      {409, "server_error"},    {413, "invalid_request"},
      {422, "invalid_request"}, {429, "rate_limited"},
      {500, "server_error"},    {502, "server_error"},
      {503, "overloaded"},      {504, "timeout"},
      {529, "overloaded"}};
  for (const auto& [status, type] : table) EXPECT_EQ(TypeForHttpStatus(status), type) << status;
  EXPECT_EQ(MakeError("rate_limited", "x").code(), Code::kResourceExhausted);
  EXPECT_EQ(MakeError("timeout", "x").code(), Code::kDeadlineExceeded);
  EXPECT_EQ(MakeError("context_length", "x").code(), Code::kInvalidArgument);
  EXPECT_EQ(MakeError("overloaded", "x").code(), Code::kUnavailable);
  EXPECT_EQ(MakeError("auth", "x").ErrorType(), "auth");
}

TEST(WireUtilTest, ArgumentsAndStructuredText) {
  EXPECT_EQ(ArgumentsObject("", "t")->size(), 0u);
  EXPECT_EQ(ArgumentsObject(R"({"a":1})", "t")->at("a"), 1);
  Status bad = ArgumentsObject("[1]", "lookup").status();
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_NE(bad.message().find("lookup"), std::string::npos);

  ChatResponse r;
  r.text = "  ```json\n{\"a\": [1]}\n```  ";
  ParseStructured(r, true);
  ASSERT_TRUE(r.structured);
  EXPECT_EQ(testing::Canon(*r.structured), testing::Canon(R"({"a":[1]})"));
  r = ChatResponse{};
  r.text = "not json";
  ParseStructured(r, true);
  EXPECT_FALSE(r.structured);
  r.text = "{}";
  ParseStructured(r, false);
  EXPECT_FALSE(r.structured);
}

TEST(WireUtilTest, MakeCodecKnowsTheThreeProtocols) {
  for (std::string_view p : {"openai", "anthropic", "gemini"}) {
    auto codec = MakeCodec(p);
    ASSERT_TRUE(codec.ok());
    EXPECT_EQ((*codec)->protocol(), p);
  }
  EXPECT_EQ(MakeCodec("cohere").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace baton::providers
