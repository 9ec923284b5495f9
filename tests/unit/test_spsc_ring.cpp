// Unit tests of SpscRing, the lock-free queue between the daemon and each worker: capacity,
// FIFO order, index wraparound, and a two-thread stress that checks every item's sequence.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "common/control.h"
#include "common/spsc_ring.h"

using namespace shmpool;

namespace {

// An item whose halves must agree: a torn or stale read shows as a mismatch.
struct Stamped {
    uint64_t seq;
    uint64_t check;
};
constexpr uint64_t kCheckMix = 0x9e3779b97f4a7c15ull;
Stamped stamp(uint64_t seq) { return {seq, seq * kCheckMix ^ 0xdeadbeefull}; }
bool intact(const Stamped& s) { return s.check == (s.seq * kCheckMix ^ 0xdeadbeefull); }

// Rings are big and over-aligned; tests keep them on the heap as the daemon's would be in a segment.
template <class T, uint32_t N>
std::unique_ptr<SpscRing<T, N>> make_ring() {
    return std::make_unique<SpscRing<T, N>>();
}

}  // namespace

TEST_CASE("a new ring is empty and pop fails", "[ring]") {
    auto ring = make_ring<uint64_t, 8>();
    uint64_t item = 42;
    CHECK(ring->empty());
    CHECK(ring->size() == 0);
    CHECK_FALSE(ring->pop(item));
    CHECK(item == 42);  // untouched by a failed pop
}

TEST_CASE("push succeeds until the ring holds capacity items, then returns false", "[ring]") {
    auto ring = make_ring<uint64_t, 8>();
    STATIC_REQUIRE(SpscRing<uint64_t, 8>::capacity == 8);
    for (uint64_t i = 0; i < 8; ++i) {
        REQUIRE(ring->push(i));
        CHECK(ring->size() == i + 1);
    }
    CHECK_FALSE(ring->push(99));
    CHECK_FALSE(ring->push(100));
    CHECK(ring->size() == 8);

    uint64_t item = 0;
    REQUIRE(ring->pop(item));
    CHECK(item == 0);
    CHECK(ring->push(8));  // one slot freed: one push fits, the next does not
    CHECK_FALSE(ring->push(101));

    for (uint64_t expect = 1; expect <= 8; ++expect) {
        REQUIRE(ring->pop(item));
        CHECK(item == expect);  // the refused pushes left nothing behind
    }
    CHECK_FALSE(ring->pop(item));
    CHECK(ring->empty());
}

TEST_CASE("items come out in the order they went in", "[ring]") {
    auto ring = make_ring<uint64_t, 16>();
    for (uint64_t v : {5u, 3u, 9u, 1u, 7u}) REQUIRE(ring->push(v));
    std::vector<uint64_t> out;
    for (uint64_t v; ring->pop(v);) out.push_back(v);
    CHECK(out == std::vector<uint64_t>{5, 3, 9, 1, 7});
}

TEST_CASE("the ring wraps around its storage over many cycles", "[ring]") {
    auto ring = make_ring<Stamped, 8>();
    uint64_t pushed = 0, popped = 0;
    // Batches of 1 to 5 on top of up to 3 kept items (so up to a full ring), so head and
    // tail land on every offset of the storage, with the ring rarely empty at a wrap.
    for (int cycle = 0; cycle < 20000; ++cycle) {
        uint64_t batch = 1 + cycle % 5;
        for (uint64_t i = 0; i < batch; ++i) REQUIRE(ring->push(stamp(pushed++)));
        while (ring->size() > 3) {
            Stamped s{};
            REQUIRE(ring->pop(s));
            REQUIRE(intact(s));
            REQUIRE(s.seq == popped++);
        }
    }
    for (Stamped s{}; ring->pop(s);) {
        REQUIRE(intact(s));
        REQUIRE(s.seq == popped++);
    }
    CHECK(popped == pushed);
    CHECK(pushed == 60000);  // indices went far past the storage size
}

TEST_CASE("a worker ring carries range messages unchanged, and reset empties it", "[ring]") {
    auto ring = make_ring<ctl::RangeMsg, ctl::kRingSize>();
    for (uint32_t i = 0; i < ctl::kRingSize; ++i) {
        ctl::RangeMsg m{};
        m.job_slot = i % ctl::kMaxJobSlots;
        m.generation = 1000 + i;
        m.index = (uint64_t(1) << 40) + i;
        m.begin = i * 7;
        m.end = i * 7 + 7;
        m.attempt = 1 + i % 3;
        REQUIRE(ring->push(m));
    }
    CHECK_FALSE(ring->push(ctl::RangeMsg{}));
    for (uint32_t i = 0; i < ctl::kRingSize / 2; ++i) {
        ctl::RangeMsg m{};
        REQUIRE(ring->pop(m));
        CHECK(m.job_slot == i % ctl::kMaxJobSlots);
        CHECK(m.generation == 1000 + i);
        CHECK(m.index == (uint64_t(1) << 40) + i);
        CHECK(m.begin == i * 7);
        CHECK(m.end == i * 7 + 7);
        CHECK(m.attempt == 1 + i % 3);
    }
    ring->reset();
    CHECK(ring->empty());
    ctl::RangeMsg m{};
    CHECK_FALSE(ring->pop(m));
    for (uint32_t i = 0; i < ctl::kRingSize; ++i) CHECK(ring->push(m));
}

TEST_CASE("one producer and one consumer thread pass 10 million items in sequence", "[ring]") {
    constexpr uint64_t kItems = 10'000'000;
    auto ring = make_ring<Stamped, 64>();
    std::atomic<uint64_t> full_spins{0};

    std::thread producer([&] {
        uint64_t spins = 0;
        for (uint64_t i = 0; i < kItems; ++i)
            while (!ring->push(stamp(i))) {
                ++spins;
                std::this_thread::yield();
            }
        full_spins = spins;
    });

    uint64_t expect = 0, torn = 0, out_of_order = 0, sizes_over_capacity = 0;
    while (expect < kItems) {
        Stamped s{};
        if (!ring->pop(s)) {
            std::this_thread::yield();
            continue;
        }
        torn += !intact(s);
        out_of_order += s.seq != expect;
        sizes_over_capacity += ring->size() > 64;
        expect = s.seq + 1;
    }
    producer.join();

    CHECK(expect == kItems);
    CHECK(torn == 0);
    CHECK(out_of_order == 0);
    CHECK(sizes_over_capacity == 0);
    CHECK(ring->empty());
    Stamped s{};
    CHECK_FALSE(ring->pop(s));
    INFO("producer found the ring full " << full_spins << " times");
    SUCCEED();
}
