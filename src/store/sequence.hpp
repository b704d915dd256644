#pragma once

// Rules every backend applies to an append, so all of them accept and reject the same batches.

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "core/events.hpp"

namespace baton::store {

// Ok when the seqs of `events` are last_seq + 1, last_seq + 2, ... (an empty batch is ok).
// Otherwise kFailedPrecondition naming the run and the first seq that breaks the sequence.
Status CheckSequence(std::string_view run_id, uint64_t last_seq,
                     const std::vector<core::Event>& events);

}  // namespace baton::store
