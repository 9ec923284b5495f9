// A lock-free single-producer, single-consumer ring of trivially copyable items that lives
// in shared memory. A process killed mid-push or mid-pop leaves it consistent: only `tail`
// (producer) and `head` (consumer) publish, each with one release store.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace shmpool {

template <class T, uint32_t N>
class SpscRing {
    static_assert((N & (N - 1)) == 0, "ring size must be a power of two");
    static_assert(std::is_trivially_copyable_v<T>);
    static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared-memory atomics must be lock-free");

public:
    static constexpr uint32_t capacity = N;

    void reset() {
        head_.store(0, std::memory_order_relaxed);
        tail_.store(0, std::memory_order_relaxed);
    }
    bool push(const T& item) {
        uint64_t tail = tail_.load(std::memory_order_relaxed);
        if (tail - head_.load(std::memory_order_acquire) >= N) return false;
        items_[tail & (N - 1)] = item;
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }
    bool pop(T& item) {
        uint64_t head = head_.load(std::memory_order_relaxed);
        if (head == tail_.load(std::memory_order_acquire)) return false;
        item = items_[head & (N - 1)];
        head_.store(head + 1, std::memory_order_release);
        return true;
    }
    bool empty() const { return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire); }
    uint64_t size() const { return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire); }

private:
    alignas(64) std::atomic<uint64_t> head_{0};
    alignas(64) std::atomic<uint64_t> tail_{0};
    alignas(64) T items_[N];
};

}  // namespace shmpool
