#pragma once

#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/status.hpp"

namespace baton {

// Parses durations such as "250ms", "30s", "5m", "1h30m", "2h". A bare integer is seconds.
Result<Millis> ParseDuration(std::string_view text);

// Formats as the shortest of the same forms ("1m30s", "250ms").
std::string FormatDuration(Millis d);

}  // namespace baton
