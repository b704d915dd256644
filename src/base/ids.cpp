#include "base/ids.hpp"

#include <random>

namespace baton {

std::string NewRunId(int64_t epoch_millis) {
  static const char* kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford base32
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id = "r";
  auto ms = static_cast<uint64_t>(epoch_millis);
  for (int i = 9; i >= 0; --i) id.push_back(kAlphabet[(ms >> (i * 5)) & 31]);
  uint64_t r = rng();
  for (int i = 0; i < 10; ++i) id.push_back(kAlphabet[(r >> (i * 5)) & 31]);
  return id;
}

}  // namespace baton
