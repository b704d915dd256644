#include "http/sse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace baton::http {
namespace {

struct Parsed {
  Status status;
  std::vector<SseEvent> events;
  bool partial = false;
};

// Feeds `chunks` in order to one parser.
Parsed ParseChunks(const std::vector<std::string_view>& chunks, size_t max = 8u << 20) {
  SseParser parser(max);
  Parsed out;
  for (std::string_view c : chunks) {
    out.status = parser.Feed(c, [&](SseEvent&& e) {
      out.events.push_back(std::move(e));
      return Status::Ok();
    });
    if (!out.status.ok()) break;
  }
  out.partial = parser.HasPartialEvent();
  return out;
}

Parsed Parse(std::string_view s) { return ParseChunks({s}); }

void ExpectEvent(const SseEvent& e, std::string_view event, std::string_view data,
                 std::string_view id) {
  EXPECT_EQ(e.event, event);
  EXPECT_EQ(e.data, data);
  EXPECT_EQ(e.id, id);
}

bool SameEvents(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  }
  return true;
}

TEST(SseParserTest, MultiLineDataIsJoinedWithNewlines) {
  Parsed p = Parse("data: YHOO\ndata: +2\ndata: 10\n\n");
  ASSERT_TRUE(p.status.ok());
  ASSERT_EQ(p.events.size(), 1u);
  ExpectEvent(p.events[0], "", "YHOO\n+2\n10", "");
  EXPECT_FALSE(p.partial);
}

TEST(SseParserTest, SpecExampleWithCommentsAndIds) {
  Parsed p = Parse(
      ": test stream\n\n"
      "data: first event\nid: 1\n\n"
      "data:second event\nid\n\n"
      "data:  third event\n\n");
  ASSERT_TRUE(p.status.ok());
  ASSERT_EQ(p.events.size(), 3u);
  ExpectEvent(p.events[0], "", "first event", "1");
  ExpectEvent(p.events[1], "", "second event", "");  // a bare `id` resets the last event id
  ExpectEvent(p.events[2], "", " third event", "");  // only one leading space is removed
}

TEST(SseParserTest, EmptyDataFieldsAndTrailingIncompleteEvent) {
  Parsed p = Parse("data\n\ndata\ndata\n\ndata:");
  ASSERT_TRUE(p.status.ok());
  ASSERT_EQ(p.events.size(), 2u);
  EXPECT_EQ(p.events[0].data, "");
  EXPECT_EQ(p.events[1].data, "\n");
  EXPECT_TRUE(p.partial);  // the last `data:` has no blank line after it: never dispatched
}

TEST(SseParserTest, SpaceAfterColonIsOptional) {
  Parsed p = Parse("data:test\n\ndata: test\n\n");
  ASSERT_EQ(p.events.size(), 2u);
  EXPECT_EQ(p.events[0].data, "test");
  EXPECT_EQ(p.events[1].data, "test");
}

TEST(SseParserTest, EventTypesResetAfterDispatch) {
  Parsed p = Parse("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\ndata: 113411\n\n");
  ASSERT_EQ(p.events.size(), 3u);
  ExpectEvent(p.events[0], "add", "73857293", "");
  ExpectEvent(p.events[1], "remove", "2153", "");
  ExpectEvent(p.events[2], "", "113411", "");
}

TEST(SseParserTest, IdPersistsAcrossEvents) {
  Parsed p = Parse("id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\n");
  ASSERT_EQ(p.events.size(), 3u);
  EXPECT_EQ(p.events[0].id, "7");
  EXPECT_EQ(p.events[1].id, "7");
  EXPECT_EQ(p.events[2].id, "8");
}

TEST(SseParserTest, IdWithNulIsIgnored) {
  using namespace std::string_literals;
  Parsed p = Parse("id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n"s);
  ASSERT_EQ(p.events.size(), 2u);
  EXPECT_EQ(p.events[1].id, "1");
}

TEST(SseParserTest, EventWithoutDataIsNotDispatched) {
  Parsed p = Parse("event: ping\n\nid: 3\n\ndata: x\n\n");
  ASSERT_EQ(p.events.size(), 1u);
  ExpectEvent(p.events[0], "", "x", "3");  // the type of an undispatched event does not leak
}

TEST(SseParserTest, LineEndingsCrLfCrAndLfAreEquivalent) {
  Parsed lf = Parse("event: e\ndata: a\ndata: b\n\ndata: c\n\n");
  Parsed crlf = Parse("event: e\r\ndata: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n");
  Parsed cr = Parse("event: e\rdata: a\rdata: b\r\rdata: c\r\r");
  Parsed mixed = Parse("event: e\r\ndata: a\rdata: b\n\r\ndata: c\r\n\n");
  ASSERT_EQ(lf.events.size(), 2u);
  EXPECT_TRUE(SameEvents(lf.events, crlf.events));
  EXPECT_TRUE(SameEvents(lf.events, cr.events));
  EXPECT_TRUE(SameEvents(lf.events, mixed.events));
  ExpectEvent(lf.events[0], "e", "a\nb", "");
}

TEST(SseParserTest, CrLfSplitAcrossChunksIsOneLineEnd) {
  // "\r" ends a chunk and "\n" starts the next: one line end, not a blank line.
  Parsed p = ParseChunks({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0].data, "a\nb");
}

TEST(SseParserTest, CommentsAndUnknownFieldsAreIgnored) {
  Parsed p = Parse(": OPENROUTER PROCESSING\n:\nfoo: bar\ndata: x\n: mid-event\nDATA: y\n\n");
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0].data, "x");
  EXPECT_FALSE(Parse(": keep-alive\n").partial);
}

TEST(SseParserTest, FieldWithoutColonHasEmptyValue) {
  Parsed p = Parse("event\ndata\n\n");
  ASSERT_EQ(p.events.size(), 1u);
  ExpectEvent(p.events[0], "", "", "");
}

TEST(SseParserTest, ColonInValueIsKept) {
  Parsed p = Parse("data: {\"a\": 1}\n\n");
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0].data, "{\"a\": 1}");
}

TEST(SseParserTest, LeadingBomIsSkippedOnce) {
  Parsed p = Parse(
      "\xEF\xBB\xBF"
      "data: a\n\n");
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0].data, "a");

  // Split inside the BOM.
  Parsed split = ParseChunks({"\xEF", "\xBB",
                              "\xBF"
                              "da",
                              "ta: a\n\n"});
  ASSERT_EQ(split.events.size(), 1u);
  EXPECT_EQ(split.events[0].data, "a");

  // A second BOM is part of the first field name, which is then unknown.
  Parsed twice = Parse(
      "\xEF\xBB\xBF\xEF\xBB\xBF"
      "data: a\n\ndata: b\n\n");
  ASSERT_EQ(twice.events.size(), 1u);
  EXPECT_EQ(twice.events[0].data, "b");

  // Bytes that start like a BOM but are not one are kept.
  Parsed almost = ParseChunks({"\xEF\xBB", "x\ndata: c\n\n"});
  ASSERT_EQ(almost.events.size(), 1u);
  EXPECT_EQ(almost.events[0].data, "c");
}

TEST(SseParserTest, RetryTakesOnlyDigits) {
  SseParser parser;
  auto ignore = [](SseEvent&&) { return Status::Ok(); };
  EXPECT_EQ(parser.retry_ms(), -1);
  ASSERT_TRUE(parser.Feed("retry: 1500\n\n", ignore).ok());
  EXPECT_EQ(parser.retry_ms(), 1500);
  ASSERT_TRUE(
      parser.Feed("retry: 15a\nretry: -3\nretry:\nretry: 99999999999999999999999\n\n", ignore)
          .ok());
  EXPECT_EQ(parser.retry_ms(), 1500);
  ASSERT_TRUE(parser.Feed("retry:250\n", ignore).ok());
  EXPECT_EQ(parser.retry_ms(), 250);
}

TEST(SseParserTest, EverySplitPointGivesTheSameEvents) {
  const std::string stream =
      "\xEF\xBB\xBF: hello\r\n"
      "event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n"
      "id: 42\ndata: line one\ndata: line two\n\n"
      "retry: 100\revent: delta\rdata:x\r\r"
      ": keep-alive\n\n"
      "data: [DONE]\n\n";
  Parsed whole = Parse(stream);
  ASSERT_TRUE(whole.status.ok());
  ASSERT_EQ(whole.events.size(), 4u);
  ExpectEvent(whole.events[0], "message_start", "{\"type\":\"message_start\"}", "");
  ExpectEvent(whole.events[1], "", "line one\nline two", "42");
  ExpectEvent(whole.events[2], "delta", "x", "42");
  ExpectEvent(whole.events[3], "", "[DONE]", "42");

  std::string_view s = stream;
  for (size_t i = 0; i <= s.size(); ++i) {
    for (size_t j = i; j <= s.size(); ++j) {
      Parsed p = ParseChunks({s.substr(0, i), s.substr(i, j - i), s.substr(j)});
      ASSERT_TRUE(p.status.ok());
      ASSERT_TRUE(SameEvents(whole.events, p.events)) << "split at " << i << "," << j;
      ASSERT_FALSE(p.partial);
    }
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < s.size(); ++i) bytes.push_back(s.substr(i, 1));
  EXPECT_TRUE(SameEvents(whole.events, ParseChunks(bytes).events));
}

TEST(SseParserTest, PartialEventIsReported) {
  EXPECT_FALSE(Parse("").partial);
  EXPECT_FALSE(Parse("data: a\n\n").partial);
  EXPECT_TRUE(Parse("data: a\n\ndata: b").partial);
  EXPECT_TRUE(Parse("data: a\n").partial);
  EXPECT_TRUE(Parse("event: x\n").partial);
  EXPECT_TRUE(Parse("\xEF\xBB").partial);
}

TEST(SseParserTest, OversizeEventFailsAsNetwork) {
  // One long data line in one chunk.
  Parsed line = Parse("data: " + std::string(100, 'x') + "\n\n");
  EXPECT_TRUE(line.status.ok());  // within the default bound

  Parsed big = ParseChunks({"data: " + std::string(100, 'x') + "\n\n"}, 64);
  EXPECT_FALSE(big.status.ok());
  EXPECT_EQ(big.status.ErrorType(), "network");
  EXPECT_TRUE(big.events.empty());

  // Many small data lines that add up.
  std::string many;
  for (int i = 0; i < 20; ++i) many += "data: 12345\n";
  Parsed sum = ParseChunks({many, "\n"}, 64);
  EXPECT_FALSE(sum.status.ok());
  EXPECT_EQ(sum.status.ErrorType(), "network");

  // An unterminated line that grows across chunks.
  std::vector<std::string> drip(100, "xxxxxxxxxx");
  std::vector<std::string_view> views(drip.begin(), drip.end());
  Parsed grow = ParseChunks(views, 64);
  EXPECT_FALSE(grow.status.ok());

  // Events under the bound pass, however many there are.
  std::string ok_stream;
  for (int i = 0; i < 100; ++i) ok_stream += "data: 0123456789\n\n";
  Parsed fine = ParseChunks({ok_stream}, 64);
  EXPECT_TRUE(fine.status.ok());
  EXPECT_EQ(fine.events.size(), 100u);
}

TEST(SseParserTest, HandlerErrorStopsParsing) {
  SseParser parser;
  int calls = 0;
  Status st = parser.Feed("data: 1\n\ndata: 2\n\ndata: 3\n\n", [&](SseEvent&& e) {
    ++calls;
    if (e.data == "2") return Status(Code::kInternal, "stop here");
    return Status::Ok();
  });
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(st.message(), "stop here");
}

}  // namespace
}  // namespace baton::http
