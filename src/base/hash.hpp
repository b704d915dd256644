#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace baton {

// SHA-256 of `data` as 64 lowercase hex digits. Used to content-address blobs.
std::string Sha256Hex(std::string_view data);

// 64-bit FNV-1a: fast, stable across runs and machines; for seeding, not for security.
uint64_t Fnv1a64(std::string_view data, uint64_t seed = 0xcbf29ce484222325ULL);

// SplitMix64 step: a deterministic pseudo-random generator for seeded choices (sim replies,
// retry jitter). Each call advances `state`.
uint64_t SplitMix64(uint64_t& state);

// Uniform double in [0, 1) from a SplitMix64 state.
double UnitInterval(uint64_t& state);

}  // namespace baton
