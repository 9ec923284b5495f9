// Sleeping and waking on a 32-bit word in shared memory (Linux futex, not process-private).
// Workers sleep here when they have no range; nothing spins.
#pragma once

#include <atomic>
#include <cstdint>

namespace shmpool {

// Sleeps while *word == expected, at most timeout_ms. Returns on wake, timeout, signal or
// when the value already differs.
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, int timeout_ms);
void futex_wake_all(std::atomic<uint32_t>& word);

}  // namespace shmpool
