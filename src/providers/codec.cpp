#include "providers/codec.hpp"

#include <fmt/format.h>

#include "providers/anthropic/anthropic_codec.hpp"
#include "providers/gemini/gemini_codec.hpp"
#include "providers/openai/openai_codec.hpp"

namespace baton::providers {

Result<std::unique_ptr<Codec>> MakeCodec(std::string_view protocol, const Clock& clock) {
  if (protocol == openai::kProtocol) {
    return std::unique_ptr<Codec>(std::make_unique<openai::OpenAiCodec>(clock));
  }
  if (protocol == anthropic::kProtocol) {
    return std::unique_ptr<Codec>(std::make_unique<anthropic::AnthropicCodec>(clock));
  }
  if (protocol == gemini::kProtocol) {
    return std::unique_ptr<Codec>(std::make_unique<gemini::GeminiCodec>(clock));
  }
  return NotFound(
      fmt::format("unknown wire protocol '{}' (known: openai, anthropic, gemini)", protocol));
}

}  // namespace baton::providers
