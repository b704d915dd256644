#pragma once

#include <cstdint>
#include <string>

namespace baton {

// A new run id: "r" + 10 base32 chars of the epoch millisecond + 10 random base32 chars.
// Ids sort by creation time. Safe from any thread.
std::string NewRunId(int64_t epoch_millis);

}  // namespace baton
