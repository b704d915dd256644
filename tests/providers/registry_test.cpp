#include "providers/registry.hpp"

#include <gtest/gtest.h>

namespace baton::providers {
namespace {

class NamedModel final : public ChatModel {
 public:
  explicit NamedModel(std::string name) : name_(std::move(name)) {}
  boost::asio::awaitable<Result<ChatResponse>> Complete(ChatRequest) override {
    co_return ChatResponse{};
  }
  std::string_view provider() const override { return name_; }

 private:
  std::string name_;
};

ModelFactory FactoryFor(std::string name) {
  return [name](const core::ModelConfig&) -> Result<std::unique_ptr<ChatModel>> {
    return std::unique_ptr<ChatModel>(std::make_unique<NamedModel>(name));
  };
}

core::ModelConfig Config(std::string provider) {
  core::ModelConfig c;
  c.name = "fast";
  c.provider = std::move(provider);
  c.model = "sim-small";
  return c;
}

TEST(RegistryTest, BuiltinsIncludeSim) {
  ModelRegistry registry;
  RegisterBuiltinProviders(registry);
  EXPECT_TRUE(registry.Contains("sim"));
  auto model = registry.Create(Config("sim"));
  ASSERT_TRUE(model.ok()) << model.error().ToString();
  EXPECT_EQ((*model)->provider(), "sim");
}

TEST(RegistryTest, UserProvidersAreCreatedThroughTheRegistry) {
  ModelRegistry registry;
  ASSERT_TRUE(registry.Register("openai", FactoryFor("openai")).ok());
  auto model = registry.Create(Config("openai"));
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->provider(), "openai");
}

TEST(RegistryTest, UnknownProviderSuggestsTheClosestName) {
  ModelRegistry registry;
  ASSERT_TRUE(registry.Register("sim", FactoryFor("sim")).ok());
  ASSERT_TRUE(registry.Register("openai", FactoryFor("openai")).ok());
  ASSERT_TRUE(registry.Register("anthropic", FactoryFor("anthropic")).ok());
  auto r = registry.Create(Config("opneai"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_EQ(r.error().message(),
            "model 'fast': unknown provider 'opneai' (did you mean 'openai'?)");

  r = registry.Create(Config("vertex"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "model 'fast': unknown provider 'vertex' (known: anthropic, openai, sim)");

  r = registry.Create(Config(""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
}

TEST(RegistryTest, RegisterRejectsDuplicatesAndEmptyInput) {
  ModelRegistry registry;
  RegisterBuiltinProviders(registry);
  Status dup = registry.Register("sim", FactoryFor("sim"));
  EXPECT_EQ(dup.code(), Code::kAlreadyExists);
  EXPECT_EQ(registry.Register("", FactoryFor("x")).code(), Code::kInvalidArgument);
  EXPECT_EQ(registry.Register("x", nullptr).code(), Code::kInvalidArgument);
  EXPECT_EQ(registry.Providers(),
            (std::vector<std::string>{"anthropic", "gemini", "llamacpp", "lmstudio", "ollama",
                                      "openai", "openrouter", "sim", "vllm"}));
}

TEST(RegistryTest, FactoryErrorsPassThrough) {
  ModelRegistry registry;
  RegisterBuiltinProviders(registry);
  core::ModelConfig c = Config("sim");
  c.options["sim"] = json::object{{"sedd", 1}};
  auto r = registry.Create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("model 'fast'"), std::string::npos);
  EXPECT_NE(r.error().message().find("unknown option 'sedd'"), std::string::npos);
}

}  // namespace
}  // namespace baton::providers
