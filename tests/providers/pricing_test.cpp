#include "providers/pricing.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace baton::providers {
namespace {

core::ModelConfig Config(std::string model, json::object options = {}) {
  core::ModelConfig c;
  c.name = "m";
  c.provider = "sim";
  c.model = std::move(model);
  c.options = std::move(options);
  return c;
}

TEST(PricingTest, TableListsSimAndVendorModels) {
  ASSERT_GE(BuiltinPrices().size(), 14u);
  auto small = BuiltinPrice("sim-small");
  ASSERT_TRUE(small);
  EXPECT_DOUBLE_EQ(small->input, 0.10);
  EXPECT_DOUBLE_EQ(small->output, 0.40);
  auto large = BuiltinPrice("sim-large");
  ASSERT_TRUE(large);
  EXPECT_DOUBLE_EQ(large->input, 1.0);
  EXPECT_DOUBLE_EQ(large->output, 4.0);
  for (std::string_view m : {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"}) {
    EXPECT_TRUE(BuiltinPrice(m)) << m;
  }
}

TEST(PricingTest, SnapshotsAndRoutingPrefixesMatchTheBaseModel) {
  auto mini = BuiltinPrice("gpt-4o-mini");
  auto dated = BuiltinPrice("gpt-4o-mini-2024-07-18");
  ASSERT_TRUE(mini && dated);
  EXPECT_DOUBLE_EQ(dated->input, mini->input);  // longest listed prefix, not gpt-4o
  EXPECT_DOUBLE_EQ(BuiltinPrice("claude-3-5-haiku-latest")->output, 4.0);
  EXPECT_DOUBLE_EQ(BuiltinPrice("claude-sonnet-4-5-20250929")->input, 3.0);
  EXPECT_DOUBLE_EQ(BuiltinPrice("openai/gpt-4o")->input, 2.5);
  EXPECT_FALSE(BuiltinPrice("gpt-4o-turbo-preview"));
  EXPECT_FALSE(BuiltinPrice("my-local-llama"));
}

TEST(PricingTest, CostSplitsCachedAndReasoningTokens) {
  Price p{2.0, 8.0, 0.5, 10.0};
  Usage u;
  u.input_tokens = 1'000'000;
  u.cached_tokens = 400'000;
  u.output_tokens = 500'000;
  u.reasoning_tokens = 100'000;
  // 600k fresh * 2 + 400k cached * 0.5 + 400k output * 8 + 100k reasoning * 10, per 1M.
  EXPECT_DOUBLE_EQ(p.Cost(u), 1.2 + 0.2 + 3.2 + 1.0);
  EXPECT_DOUBLE_EQ(p.Cost(Usage{}), 0.0);
  Usage nonsense;
  nonsense.input_tokens = 10;
  nonsense.cached_tokens = 50;  // more cached than input: clamped to input
  EXPECT_DOUBLE_EQ(p.Cost(nonsense), 10 * 0.5 / 1e6);
}

TEST(PricingTest, UnknownModelCostsNothingAndSaysSo) {
  auto info = ResolvePrice(Config("my-local-llama"));
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->known);
  Usage u;
  u.input_tokens = 1000;
  u.output_tokens = 1000;
  EXPECT_EQ(info->price.Cost(u), 0.0);
}

TEST(PricingTest, OverrideReplacesGivenFieldsOnly) {
  json::object opts;
  opts["price"] = json::object{{"input", 0.5}};
  auto info = ResolvePrice(Config("sim-large", opts));
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->known);
  EXPECT_DOUBLE_EQ(info->price.input, 0.5);
  EXPECT_DOUBLE_EQ(info->price.output, 4.0);

  opts["price"] = json::object{{"input", 1}, {"output", 3}};
  info = ResolvePrice(Config("my-local-llama", opts));
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->known);
  EXPECT_DOUBLE_EQ(info->price.cached_input, 1.0);  // defaults to input
  EXPECT_DOUBLE_EQ(info->price.reasoning, 3.0);     // defaults to output
}

TEST(PricingTest, BadOverridesAreRejected) {
  json::object opts;
  opts["price"] = json::object{{"inptu", 1}};
  auto r = ResolvePrice(Config("sim-small", opts));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("unknown price field 'inptu'"), std::string::npos);
  opts["price"] = json::object{{"input", -1}};
  EXPECT_FALSE(ResolvePrice(Config("sim-small", opts)).ok());
  opts["price"] = json::object{{"output", "cheap"}};
  EXPECT_FALSE(ResolvePrice(Config("sim-small", opts)).ok());
  opts["price"] = 3;
  EXPECT_FALSE(ResolvePrice(Config("sim-small", opts)).ok());
}

}  // namespace
}  // namespace baton::providers
