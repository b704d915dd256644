#include "store/sequence.hpp"

#include <string>

namespace baton::store {

Status CheckSequence(std::string_view run_id, uint64_t last_seq,
                     const std::vector<core::Event>& events) {
  uint64_t expected = last_seq + 1;
  for (const core::Event& event : events) {
    if (event.seq != expected) {
      return FailedPrecondition("run " + std::string(run_id) + ": event seq " +
                                std::to_string(event.seq) + " where " + std::to_string(expected) +
                                " was expected");
    }
    ++expected;
  }
  return Status::Ok();
}

}  // namespace baton::store
