// Unit tests of the exposure rule (issue #16): a real DatasetStore with spares keeps a deleted
// segment no client was told of, and never one whose name or descriptor left through reveal().
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "common/control.h"
#include "common/log.h"
#include "common/names.h"
#include "common/segment.h"
#include "server/datasets/dataset_store.h"
#include "server/datasets/spare_segments.h"

using namespace shmpool;

namespace {

// A store on a private instance with spares on; its destructor checks nothing is left in /dev/shm.
struct SpareStore {
    std::string instance = "ux" + std::to_string(getpid());
    boost::asio::io_context io;
    std::unique_ptr<void, decltype(&std::free)> memory{nullptr, &std::free};
    std::shared_ptr<SpareSegments> spares;
    std::unique_ptr<DatasetStore> store;

    SpareStore() {
        set_log_level(LogLevel::warn);
        size_t bytes = (ctl::control_bytes(1) + 63) / 64 * 64;
        memory.reset(std::aligned_alloc(64, bytes));
        REQUIRE(memory.get() != nullptr);
        std::memset(memory.get(), 0, bytes);
        ctl::Header* control = ctl::init_control(memory.get(), 1);
        store = std::make_unique<DatasetStore>(instance, control);
        spares = std::make_shared<SpareSegments>(io, instance, control, SpareLimits{1 << 20, std::chrono::seconds(30)});
        store->set_spares(spares);
    }
    ~SpareStore() {
        store.reset();
        spares.reset();
        int left = 0;
        for (const auto& e : std::filesystem::directory_iterator("/dev/shm")) {
            std::string name = e.path().filename().string();
            if (name.rfind(instance_prefix(instance), 0) == 0) ++left, Segment::remove(name);
        }
        CHECK(left == 0);
    }

    // A sealed job output of 1000 float64 (no mapping: as the workers would write it).
    DatasetPtr output(const std::string& name) {
        ArrayMeta meta;
        meta.shape.ndim = 1;
        meta.shape.dims[0] = 1000;
        DatasetPtr ds = store->create(name, meta, getuid());
        store->seal(*ds);
        return ds;
    }
};

}  // namespace

TEST_CASE("describe() names no segment; reveal() names it and marks the dataset exposed", "[spares]") {
    SpareStore s;
    DatasetPtr ds = s.output("a");
    CHECK_FALSE(ds->describe().contains("segment"));
    CHECK_FALSE(ds->exposed);
    CHECK(ds->reveal()["segment"] == ds->segment);
    CHECK(ds->exposed);
}

TEST_CASE("a deleted segment no client saw is kept and becomes the next output of its size", "[spares]") {
    SpareStore s;
    uint64_t backing = s.output("a")->backing;
    s.store->erase(getuid(), "a");
    REQUIRE(s.spares->count() == 1);
    DatasetPtr b = s.output("b");
    CHECK(b->backing == backing);
    CHECK(s.spares->reused() == 1);
}

TEST_CASE("a deleted segment that was revealed is unlinked, never kept", "[spares]") {
    SpareStore s;
    DatasetPtr a = s.output("a");
    std::string segment = a->segment;
    uint64_t backing = a->backing;
    a->reveal();
    a.reset();
    s.store->erase(getuid(), "a");
    CHECK(s.spares->count() == 0);
    CHECK_FALSE(std::filesystem::exists("/dev/shm/" + segment));
    CHECK(s.output("b")->backing != backing);
    CHECK(s.spares->reused() == 0);
}
