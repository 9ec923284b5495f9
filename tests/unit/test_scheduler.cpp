// Unit tests of the real Scheduler in one process: a control area in ordinary memory, a real
// DatasetStore, and the test playing every worker's part (pop, run, report, die) by hand.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/control.h"
#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "common/segment.h"
#include "server/datasets/dataset_store.h"
#include "server/jobs/job.h"
#include "server/jobs/metrics.h"
#include "server/jobs/scheduler.h"

using namespace shmpool;
using ctl::RangeMsg;
using ctl::RangeStatus;

namespace {

const std::string kKilled = "was killed by signal 9";

std::string state_of(const Job& job) { return std::string(job_state_name(job.state)); }
std::string error_code_of(const Job& job) {
    return job.error ? std::string(error_code_name(job.error->code)) : std::string("none");
}
std::string error_message_of(const Job& job) { return job.error ? job.error->message : std::string(); }

struct HarnessOptions {
    uint32_t workers = 2;
    SchedulerLimits limits{};
    bool start_workers = true;  // worker_up() every slot at once
};

// A range as a fake worker popped it.
struct Popped {
    uint32_t slot;
    uint64_t job;
    RangeMsg msg;
};

// Owns a control area in plain memory, a DatasetStore on a private instance name, and a
// Scheduler over both; plays the workers. Its destructor checks the instance left no
// segment in /dev/shm (and removes any, so one failure does not leak into the next test).
struct Harness {
    std::string instance;
    uint32_t n_workers;
    std::unique_ptr<void, decltype(&std::free)> memory{nullptr, &std::free};
    ctl::Header* control = nullptr;
    std::unique_ptr<DatasetStore> store;
    std::unique_ptr<Scheduler> scheduler;

    explicit Harness(HarnessOptions opt = {}) : instance(unique_instance()), n_workers(opt.workers) {
        set_log_level(LogLevel::warn);
        size_t bytes = (ctl::control_bytes(n_workers) + 63) / 64 * 64;
        memory.reset(std::aligned_alloc(64, bytes));
        REQUIRE(memory.get() != nullptr);
        std::memset(memory.get(), 0, bytes);
        control = ctl::init_control(memory.get(), n_workers);
        store = std::make_unique<DatasetStore>(instance, control);
        scheduler = std::make_unique<Scheduler>(control, n_workers, *store, opt.limits);
        scheduler->set_instance(instance);
        if (opt.start_workers)
            for (uint32_t s = 0; s < n_workers; ++s) scheduler->worker_up(s);
    }

    ~Harness() {
        scheduler.reset();
        store.reset();
        std::set<std::string> left = segments();
        std::string names;
        for (const auto& n : left) names += n + " ";
        CHECK(names == "");  // every segment of the instance is gone
        for (const auto& n : left) Segment::remove(n);
    }

    static std::string unique_instance() {
        static int counter = 0;
        return "ut" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    }

    // The instance's objects in /dev/shm.
    std::set<std::string> segments() const {
        std::set<std::string> out;
        std::string prefix = instance_prefix(instance);
        for (const auto& e : std::filesystem::directory_iterator("/dev/shm")) {
            std::string name = e.path().filename().string();
            if (name.starts_with(prefix)) out.insert(name);
        }
        return out;
    }
    std::set<std::string> dataset_names() const {
        std::set<std::string> out;
        for (const auto& ds : store->list()) out.insert(ds->name);
        return out;
    }

    // ---- jobs ----

    Job& submit(const JobSpec& spec) { return scheduler->submit(spec); }

    static JobSpec noop_spec(uint64_t rows, uint64_t chunk) {
        JobSpec spec;
        spec.kernel = "noop";
        spec.params = {{"rows", rows}};
        spec.chunk = chunk;
        return spec;
    }
    Job& submit_noop(uint64_t rows, uint64_t chunk) { return submit(noop_spec(rows, chunk)); }

    static JobSpec rbf_spec(const std::string& points, uint64_t chunk, std::optional<std::string> output = {}) {
        JobSpec spec;
        spec.kernel = "rbf";
        spec.inputs = {{"points", points}};
        spec.chunk = chunk;
        spec.output = std::move(output);
        return spec;
    }

    // An n x d float64 dataset filled with data, sealed unless told otherwise.
    DatasetPtr put_points(const std::string& name, uint64_t n, uint64_t d, bool seal = true) {
        ArrayMeta meta;
        meta.dtype = DType::float64;
        meta.shape.ndim = 2;
        meta.shape.dims[0] = n;
        meta.shape.dims[1] = d;
        Segment mapping;
        DatasetPtr ds = store->create(name, meta, 0, &mapping);
        auto* p = static_cast<double*>(mapping.data());
        for (uint64_t i = 0; i < n * d; ++i) p[i] = double(i % 17) * 0.25;
        if (seal) store->seal(*ds);
        return ds;
    }

    // The error code a refused submit throws ("accepted" if it was not refused).
    std::string refusal(const JobSpec& spec) {
        try {
            scheduler->submit(spec);
        } catch (const Error& e) {
            return std::string(error_code_name(e.code()));
        }
        return "accepted";
    }

    // ---- the workers' side ----

    ctl::WorkerSlot& worker(uint32_t s) { return control->workers()[s]; }
    const ctl::JobDesc& desc_of(const RangeMsg& r) const { return control->jobs[r.job_slot]; }
    uint64_t job_of(const RangeMsg& r) const { return control->jobs[r.job_slot].job_id; }

    std::optional<RangeMsg> pop(uint32_t s) {
        RangeMsg r{};
        if (!worker(s).todo.pop(r)) return std::nullopt;
        return r;
    }
    std::vector<RangeMsg> pop_all(uint32_t s) {
        std::vector<RangeMsg> out;
        while (auto r = pop(s)) out.push_back(*r);
        return out;
    }
    // What a worker publishes before it runs `r`: the scheduler blames `r` if it dies now.
    void start_running(uint32_t s, const RangeMsg& r) {
        worker(s).running_index.store(r.index);
        worker(s).running_begin.store(r.begin);
        worker(s).running_end.store(r.end);
        worker(s).running_job.store(job_of(r));
    }
    // Pushes a completion as a worker does; the scheduler sees it at the next drain().
    void report(uint32_t s, const RangeMsg& r, RangeStatus status = RangeStatus::ok, const std::string& message = "",
                uint64_t elapsed_ns = 0, uint64_t result_bytes = 0) {
        ctl::DoneMsg d{};
        d.result_bytes = result_bytes;
        d.job_slot = r.job_slot;
        d.generation = r.generation;
        d.index = r.index;
        d.status = status;
        d.attempt = r.attempt;
        d.elapsed_ns = elapsed_ns;
        std::strncpy(d.message, message.c_str(), sizeof d.message - 1);
        worker(s).running_job.store(0);
        REQUIRE(worker(s).done.push(d));
    }
    void drain() { scheduler->drain_completions(); }
    void kill(uint32_t s) { scheduler->worker_down(s, kKilled); }
    void up(uint32_t s) { scheduler->worker_up(s); }

    // Every worker pops, runs and reports (ok) all it holds, then the scheduler drains; until
    // nothing moves. `after_drain` runs after each drain. Returns the ranges in popped order.
    std::vector<Popped> serve(uint64_t elapsed_ns = 0, const std::function<void()>& after_drain = {}) {
        std::vector<Popped> ran;
        for (bool moved = true; moved;) {
            moved = false;
            for (uint32_t s = 0; s < n_workers; ++s)
                for (const RangeMsg& r : pop_all(s)) {
                    ran.push_back({s, job_of(r), r});
                    report(s, r, RangeStatus::ok, "", elapsed_ns);
                    moved = true;
                }
            drain();
            if (after_drain) after_drain();
        }
        return ran;
    }
};

// How many times each index of `job_id` appears in `ran`.
std::map<uint64_t, int> index_counts(const std::vector<Popped>& ran, uint64_t job_id) {
    std::map<uint64_t, int> counts;
    for (const Popped& p : ran)
        if (p.job == job_id) counts[p.msg.index] += 1;
    return counts;
}

}  // namespace

// ---- every range once -----------------------------------------------------------------

TEST_CASE("every range of a job is dispatched once, accounted once, and the job ends done", "[scheduler]") {
    auto [rows, chunk, n_ranges] = GENERATE(table<uint64_t, uint64_t, uint64_t>({
        {12, 1, 12},  // chunk 1
        {49, 7, 7},   // divides evenly
        {53, 7, 8},   // ragged: the last range is [49, 53)
        {5, 100, 1},  // chunk larger than the job
    }));
    CAPTURE(rows, chunk);
    Harness h({.workers = 3});
    Job& job = h.submit_noop(rows, chunk);
    int ended_calls = 0;
    h.scheduler->when_ended(job, [&](const Job& j) {
        ended_calls += 1;
        CHECK(j.state == JobState::done);
    });
    REQUIRE(job.n_ranges == n_ranges);
    CHECK(job.chunk == chunk);
    CHECK(state_of(job) == "running");

    std::vector<Popped> ran = h.serve(0, [&] {
        // done exactly when the last range is accounted, not before
        CHECK(state_of(job) == (job.ranges_done == job.n_ranges ? "done" : "running"));
    });

    REQUIRE(ran.size() == n_ranges);
    std::map<uint64_t, int> counts = index_counts(ran, job.id);
    REQUIRE(counts.size() == n_ranges);
    for (const auto& [index, count] : counts) CHECK(count == 1);
    for (const Popped& p : ran) {
        const RangeMsg& r = p.msg;
        CHECK(r.begin == r.index * chunk);
        CHECK(r.end == std::min(rows, (r.index + 1) * chunk));
        CHECK(r.begin < r.end);
        CHECK(r.attempt == 1);
        CHECK(h.desc_of(r).generation == r.generation + 1);  // published with it, bumped as the job left
        CHECK(std::string(h.desc_of(r).kernel) == "noop");
    }
    // The ranges tile [0, rows) exactly.
    std::vector<RangeMsg> sorted;
    for (const Popped& p : ran) sorted.push_back(p.msg);
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    CHECK(sorted.front().begin == 0);
    CHECK(sorted.back().end == rows);
    for (size_t i = 1; i < sorted.size(); ++i) CHECK(sorted[i].begin == sorted[i - 1].end);
    if (rows == 53) {
        CHECK(sorted.back().begin == 49);
        CHECK(sorted.back().end == 53);
    }

    CHECK(state_of(job) == "done");
    CHECK(job.ranges_done == n_ranges);
    CHECK(job.duplicates == 0);
    CHECK(job.ranges_requeued == 0);
    CHECK_FALSE(job.error.has_value());
    CHECK(ended_calls == 1);
    CHECK(h.scheduler->idle());
    CHECK(h.scheduler->stats()["ranges_done"] == n_ranges);
    CHECK(job.slot == -1);  // descriptor slot freed
}

TEST_CASE("an rbf job publishes its input and output and seals the output when done", "[scheduler]") {
    Harness h({.workers = 2});
    DatasetPtr points = h.put_points("pts", 10, 3);
    Job& job = h.submit(Harness::rbf_spec("pts", 4, "F"));
    REQUIRE(job.n_ranges == 3);
    REQUIRE(job.output);
    DatasetPtr out = h.store->find(0, "F");
    CHECK_FALSE(out->sealed);
    CHECK(out->producer_job == job.id);
    CHECK(h.segments() == std::set<std::string>{points->segment, out->segment});

    auto first = h.pop(0);
    REQUIRE(first);
    const ctl::JobDesc& d = h.desc_of(*first);
    CHECK(d.job_id == job.id);
    CHECK(std::string(d.kernel) == "rbf");
    REQUIRE(d.n_inputs == 1);
    CHECK(std::string(d.roles[0]) == "points");
    CHECK(d.inputs[0].id == points->id);
    CHECK(d.inputs[0].bytes == 10 * 3 * 8);
    CHECK(d.inputs[0].ndim == 2);
    CHECK(d.output.id == out->id);
    CHECK(d.output.dims[0] == 10);
    CHECK(d.output.dims[1] == 10);
    CHECK(d.cancelled.load() == 0);
    h.report(0, *first);
    h.drain();

    h.serve();
    CHECK(state_of(job) == "done");
    CHECK(out->sealed);
    CHECK(out->producer_job == 0);
    CHECK(h.dataset_names() == std::set<std::string>{"F", "pts"});
    CHECK(h.segments() == std::set<std::string>{points->segment, out->segment});
}

// ---- duplicates -----------------------------------------------------------------------

TEST_CASE("a duplicate completion never counts a range twice", "[scheduler]") {
    Harness h({.workers = 1});
    Job& job = h.submit_noop(4, 1);
    auto held = h.pop_all(0);
    REQUIRE(held.size() == 2);
    h.report(0, held[0]);
    h.report(0, held[0]);  // the same range reported again
    h.report(0, held[1]);
    h.drain();
    CHECK(job.ranges_done == 2);
    h.serve();
    CHECK(state_of(job) == "done");
    CHECK(job.ranges_done == job.n_ranges);
}

// Regression: account() once dropped every completion not at the head of the slot's in-flight
// list as "out of order", so Job::duplicates was never incremented.
TEST_CASE("a duplicate completion is counted in duplicates, not in ranges_done", "[scheduler]") {
    Harness h({.workers = 1});
    Job& job = h.submit_noop(4, 1);
    auto held = h.pop_all(0);
    REQUIRE(held.size() == 2);
    h.report(0, held[0]);
    h.report(0, held[0]);
    h.report(0, held[1]);
    h.drain();
    CHECK(job.ranges_done == 2);
    CHECK(job.duplicates == 1);
    h.serve();
    CHECK(job.ranges_done == job.n_ranges);
}

// Regression: account() once matched a completion by range index only, ignoring job_slot and
// generation, so a duplicate of job A's range 0 was taken as job B's range 0 and B ended done
// with a range that never ran.
TEST_CASE("a duplicate completion of one job is not credited to another job's range", "[scheduler]") {
    Harness h({.workers = 1});
    Job& a = h.submit_noop(1, 1);
    Job& b = h.submit_noop(1, 1);
    auto held = h.pop_all(0);
    REQUIRE(held.size() == 2);
    REQUIRE(h.job_of(held[0]) == a.id);
    REQUIRE(h.job_of(held[1]) == b.id);
    h.report(0, held[0]);
    h.report(0, held[0]);  // a's range again, while b's range 0 is still to run
    h.drain();
    CHECK(state_of(a) == "done");
    CHECK(state_of(b) == "running");
    CHECK(b.ranges_done == 0);
}

// ---- worker deaths --------------------------------------------------------------------

TEST_CASE("a dead worker's finished ranges count once and its unfinished ones move to a live worker",
          "[scheduler]") {
    Harness h({.workers = 2});
    Job& job = h.submit_noop(12, 1);
    auto w0 = h.pop_all(0);
    REQUIRE(w0.size() == 2);  // first depth is 2: worker 0 holds ranges 0 and 2
    CHECK(w0[0].index == 0);
    CHECK(w0[1].index == 2);

    h.report(0, w0[0]);           // finished, not yet drained
    h.start_running(0, w0[1]);    // running range 2 when it dies
    h.kill(0);

    CHECK(job.ranges_done == 1);  // range 0 drained first, counted once
    CHECK(job.ranges_requeued == 1);
    CHECK(state_of(job) == "running");
    CHECK(h.worker(0).todo.empty());
    CHECK(h.worker(0).running_job.load() == 0);
    CHECK(h.scheduler->stats()["worker_deaths"] == 1);

    // Worker 1 is full (depth 2); the requeued range goes to it before any new range.
    auto w1 = h.pop_all(1);
    REQUIRE(w1.size() == 2);
    for (const auto& r : w1) h.report(1, r);
    h.drain();
    auto next = h.pop(1);
    REQUIRE(next);
    CHECK(next->index == 2);
    CHECK(next->attempt == 2);  // its worker died running it once
    CHECK(next->begin == 2);
    CHECK(next->end == 3);
    h.report(1, *next);
    h.drain();

    std::vector<Popped> ran = h.serve();
    for (const Popped& p : ran) CHECK(p.slot == 1);  // nothing goes to the dead slot
    std::map<uint64_t, int> counts = index_counts(ran, job.id);
    CHECK(counts.count(0) == 0);  // the drained range is not run again
    CHECK(counts.count(2) == 0);
    CHECK(state_of(job) == "done");
    CHECK(job.ranges_done == job.n_ranges);
    CHECK(job.duplicates == 0);
}

TEST_CASE("a worker that dies idle has its queued ranges requeued without blame", "[scheduler]") {
    Harness h({.workers = 1});
    Job& job = h.submit_noop(6, 2);
    REQUIRE(h.worker(0).todo.size() == 2);
    h.kill(0);  // nothing popped, nothing running
    CHECK(job.ranges_requeued == 2);
    CHECK(h.worker(0).todo.empty());
    CHECK(job.deaths.empty());

    SECTION("with no live worker the ranges wait") {
        h.drain();
        CHECK(h.worker(0).todo.empty());
        CHECK(state_of(job) == "running");
    }

    h.up(0);
    auto again = h.pop_all(0);
    REQUIRE(again.size() == 2);
    CHECK(again[0].index == 0);
    CHECK(again[1].index == 1);
    CHECK(again[0].attempt == 1);
    CHECK(again[1].attempt == 1);
    for (const auto& r : again) h.report(0, r);
    h.drain();
    h.serve();
    CHECK(state_of(job) == "done");
    CHECK(job.ranges_done == 3);
}

TEST_CASE("a range whose worker dies running it max_attempts times fails the job; the range behind it is not blamed",
          "[scheduler]") {
    Harness h({.workers = 1, .limits = {.max_attempts = 3}});
    Job& job = h.submit_noop(10, 3);  // [0,3) [3,6) [6,9) [9,10)
    int ended_calls = 0;
    h.scheduler->when_ended(job, [&](const Job&) { ended_calls += 1; });

    auto first = h.pop_all(0);
    REQUIRE(first.size() == 2);
    h.report(0, first[0]);          // range 0 finishes
    h.start_running(0, first[1]);   // range 1 [3, 6) kills its worker
    h.kill(0);
    CHECK(job.ranges_done == 1);
    CHECK(state_of(job) == "running");

    for (uint32_t attempt = 2; attempt <= 3; ++attempt) {
        CAPTURE(attempt);
        h.up(0);  // the replacement worker
        auto held = h.pop_all(0);
        REQUIRE(held.size() == 2);
        CHECK(held[0].index == 1);
        CHECK(held[0].attempt == attempt);
        CHECK(held[1].index == 2);  // queued behind it, never running when the worker dies
        CHECK(held[1].attempt == 1);
        h.start_running(0, held[0]);
        h.kill(0);
        CHECK(job.deaths.count(2) == 0);
        if (attempt < 3) CHECK(state_of(job) == "running");
    }

    CHECK(state_of(job) == "failed");
    CHECK(error_code_of(job) == "range_failed");
    CHECK(error_message_of(job) ==
          "range 1 [3, 6) failed 3 attempts: its worker was killed by signal 9 each time");
    CHECK(ended_calls == 1);
    CHECK(job.ranges_done == 1);
    CHECK(job.slot == -1);
    CHECK(h.scheduler->stats()["worker_deaths"] == 3);

    h.up(0);
    CHECK(h.worker(0).todo.empty());  // a failed job hands out nothing more
    CHECK(h.scheduler->idle());
}

// ---- kernel errors and cancellation ---------------------------------------------------

TEST_CASE("a kernel_error completion fails the job at once and removes its output", "[scheduler]") {
    Harness h({.workers = 2});
    DatasetPtr points = h.put_points("pts", 12, 3);
    Job& job = h.submit(Harness::rbf_spec("pts", 4));  // output named by the job
    REQUIRE(job.output);
    std::string out_name = job.output->name;
    std::string out_segment = job.output->segment;
    CHECK(h.segments().count(out_segment) == 1);
    int ended_calls = 0;
    h.scheduler->when_ended(job, [&](const Job&) { ended_calls += 1; });

    auto w0 = h.pop_all(0);  // ranges 0 and 2
    auto w1 = h.pop_all(1);  // range 1
    REQUIRE(w0.size() == 2);
    REQUIRE(w1.size() == 1);
    const ctl::JobDesc& desc = h.desc_of(w0[0]);
    h.report(0, w0[0], RangeStatus::kernel_error, "points: row 2 is NaN");
    h.drain();

    CHECK(state_of(job) == "failed");
    CHECK(error_code_of(job) == "range_failed");
    CHECK(error_message_of(job) == "range 0 [0, 4): points: row 2 is NaN");
    CHECK(ended_calls == 1);
    CHECK(desc.cancelled.load() == 1);  // workers skip what is left
    CHECK_FALSE(job.output);
    CHECK(h.dataset_names() == std::set<std::string>{"pts"});
    CHECK(h.segments() == std::set<std::string>{points->segment});
    CHECK_THROWS_AS(h.store->find(0, out_name), Error);

    // What was in flight still comes back; it changes nothing, then the slot is freed.
    CHECK(job.slot >= 0);
    h.report(0, w0[1]);
    h.report(1, w1[0]);
    h.drain();
    CHECK(state_of(job) == "failed");
    CHECK(job.ranges_done == 0);
    CHECK(job.slot == -1);
    CHECK(h.serve().empty());
    CHECK(ended_calls == 1);
}

TEST_CASE("cancel drops queued ranges, ignores late completions and ends the job once", "[scheduler]") {
    Harness h({.workers = 1});
    DatasetPtr points = h.put_points("pts", 10, 2);
    Job& job = h.submit(Harness::rbf_spec("pts", 1, "F"));
    int ended_a = 0, ended_b = 0;
    h.scheduler->when_ended(job, [&](const Job&) { ended_a += 1; });
    h.scheduler->when_ended(job, [&](const Job&) { ended_b += 1; });

    auto held = h.pop_all(0);
    REQUIRE(held.size() == 2);
    h.report(0, held[0]);
    h.drain();  // range 0 done; range 2 dispatched
    CHECK(job.ranges_done == 1);
    const ctl::JobDesc& desc = h.desc_of(held[1]);
    uint32_t generation = desc.generation;

    h.scheduler->cancel(job, ErrorCode::cancelled, "cancelled by the test");
    CHECK(state_of(job) == "cancelled");
    CHECK(error_code_of(job) == "cancelled");
    CHECK(error_message_of(job) == "cancelled by the test");
    CHECK(ended_a == 1);
    CHECK(ended_b == 1);
    CHECK(desc.cancelled.load() == 1);
    CHECK(h.dataset_names() == std::set<std::string>{"pts"});
    CHECK(h.segments() == std::set<std::string>{points->segment});
    CHECK(job.slot >= 0);  // ranges 1 and 2 are still in flight: the descriptor is kept

    // The worker finishes range 1 (it was running) and skips range 2, as a real one would.
    h.report(0, held[1]);
    auto late = h.pop_all(0);
    REQUIRE(late.size() == 1);
    CHECK(late[0].index == 2);
    h.report(0, late[0], RangeStatus::skipped);
    h.drain();
    CHECK(job.ranges_done == 1);
    CHECK(state_of(job) == "cancelled");
    CHECK(job.slot == -1);
    CHECK(h.serve().empty());  // ranges 3..9 were never handed out

    h.scheduler->cancel(job, ErrorCode::cancelled, "again");
    int ended_c = 0;
    h.scheduler->when_ended(job, [&](const Job&) { ended_c += 1; });  // runs at once
    CHECK(ended_a == 1);
    CHECK(ended_b == 1);
    CHECK(ended_c == 1);
    CHECK(error_message_of(job) == "cancelled by the test");

    // The freed descriptor slot serves the next job, with a new generation.
    Job& next = h.submit_noop(2, 1);
    auto ran = h.serve();
    CHECK(state_of(next) == "done");
    REQUIRE_FALSE(ran.empty());
    CHECK((ran[0].msg.job_slot != held[1].job_slot || ran[0].msg.generation != generation));
    CHECK(h.scheduler->idle());
}

TEST_CASE("a cancelled job's in-flight ranges held by a dying worker are not requeued", "[scheduler]") {
    Harness h({.workers = 2});
    Job& job = h.submit_noop(20, 1);
    auto w0 = h.pop_all(0);
    REQUIRE_FALSE(w0.empty());
    h.start_running(0, w0[0]);
    h.scheduler->cancel(job, ErrorCode::cancelled, "by test");
    h.kill(0);
    CHECK(job.ranges_requeued == 0);
    CHECK(job.deaths.empty());
    CHECK(job.slot >= 0);  // worker 1 still holds ranges of it
    for (const auto& r : h.pop_all(1)) h.report(1, r, RangeStatus::skipped);
    h.drain();
    CHECK(job.slot == -1);
    CHECK(h.scheduler->idle());
}

// ---- job descriptor slots -------------------------------------------------------------

TEST_CASE("more than kMaxJobSlots jobs run one after another", "[scheduler]") {
    Harness h({.workers = 2});
    const uint32_t n_jobs = ctl::kMaxJobSlots + 44;
    for (uint32_t i = 0; i < n_jobs; ++i) {
        Job& job = h.submit_noop(3, 1);
        REQUIRE(state_of(job) == "running");
        h.serve();
        REQUIRE(state_of(job) == "done");
        REQUIRE(job.slot == -1);
    }
    uint64_t generations = 0;
    for (const auto& d : h.control->jobs) generations += d.generation;
    CHECK(generations == 2 * n_jobs);  // one publication and one release per job
    CHECK(h.scheduler->stats()["jobs_total"] == n_jobs);
    CHECK(h.scheduler->idle());
}

TEST_CASE("jobs beyond kMaxJobSlots wait queued until a slot frees, oldest first", "[scheduler]") {
    Harness h({.workers = 4});
    const uint32_t n_jobs = ctl::kMaxJobSlots + 44;
    std::vector<Job*> jobs;
    for (uint32_t i = 0; i < n_jobs; ++i) jobs.push_back(&h.submit_noop(1, 1));
    std::set<int> slots_in_use;
    for (uint32_t i = 0; i < n_jobs; ++i) {
        CAPTURE(i);
        CHECK(state_of(*jobs[i]) == (i < ctl::kMaxJobSlots ? "running" : "queued"));
        if (i < ctl::kMaxJobSlots) slots_in_use.insert(jobs[i]->slot);
    }
    CHECK(slots_in_use.size() == ctl::kMaxJobSlots);
    CHECK(h.scheduler->stats()["jobs_running"] == ctl::kMaxJobSlots);
    CHECK(h.scheduler->stats()["jobs_queued"] == 44);

    // A queued job cancelled while it waits never starts and ends once.
    Job& dropped = *jobs.back();
    int dropped_ended = 0;
    h.scheduler->when_ended(dropped, [&](const Job&) { dropped_ended += 1; });
    h.scheduler->cancel(dropped, ErrorCode::cancelled, "by test");
    CHECK(state_of(dropped) == "cancelled");
    CHECK(dropped_ended == 1);

    // The first job finishing frees one slot: the oldest queued job takes it.
    auto r = h.pop(0);
    REQUIRE(r);
    CHECK(h.job_of(*r) == jobs[0]->id);
    h.report(0, *r);
    h.drain();
    CHECK(state_of(*jobs[0]) == "done");
    CHECK(state_of(*jobs[ctl::kMaxJobSlots]) == "running");
    CHECK(state_of(*jobs[ctl::kMaxJobSlots + 1]) == "queued");

    std::vector<Popped> ran = h.serve();
    for (uint32_t i = 0; i + 1 < n_jobs; ++i) {
        CAPTURE(i);
        CHECK(state_of(*jobs[i]) == "done");
    }
    for (const Popped& p : ran) CHECK(p.job != dropped.id);
    CHECK(dropped.slot == -1);
    CHECK(dropped_ended == 1);
    CHECK(h.scheduler->idle());
}

// Regression: a job cancelled while it waits for a descriptor slot stays in queued_; when
// enough jobs finish before a slot frees, prune_finished() erases it, and start_queued_jobs()
// once called get() on the erased id: unknown_job thrown out of drain_completions(), and out of
// every later pump(), so no queued job ever started again.
TEST_CASE("a cancelled queued job pruned from the history does not wedge the queue", "[scheduler]") {
    Harness h({.workers = 1});  // default limits: 10000 finished jobs kept
    SchedulerLimits defaults;
    for (uint32_t i = 0; i < ctl::kMaxJobSlots; ++i) h.submit_noop(1, 1);
    std::vector<uint64_t> waiting;
    for (size_t i = 0; i <= defaults.finished_jobs_kept; ++i) waiting.push_back(h.submit_noop(1, 1).id);
    uint64_t next_id = h.submit_noop(1, 1).id;
    for (uint64_t id : waiting) h.scheduler->cancel(h.scheduler->get(id), ErrorCode::cancelled, "by test");

    auto r = h.pop(0);  // one running job finishes and frees its slot
    REQUIRE(r);
    h.report(0, *r);
    CHECK_NOTHROW(h.drain());
    CHECK(state_of(h.scheduler->get(next_id)) == "running");
    CHECK_NOTHROW(h.submit_noop(1, 1));
}

// ---- order and depth ------------------------------------------------------------------

TEST_CASE("ranges of the older job are dispatched before the newer job's", "[scheduler]") {
    SECTION("one worker: the dispatch order is the popped order") {
        Harness h({.workers = 1});
        Job& older = h.submit_noop(9, 1);
        Job& newer = h.submit_noop(9, 1);
        std::vector<Popped> ran = h.serve();
        REQUIRE(ran.size() == 18);
        for (size_t i = 0; i < ran.size(); ++i) {
            CAPTURE(i);
            CHECK(ran[i].job == (i < 9 ? older.id : newer.id));
            CHECK(ran[i].msg.index == i % 9);
        }
        CHECK(state_of(older) == "done");
        CHECK(state_of(newer) == "done");
    }
    SECTION("a requeued range of the older job goes before the newer job's next ranges") {
        Harness h({.workers = 2});
        Job& older = h.submit_noop(4, 1);
        Job& newer = h.submit_noop(20, 1);
        auto w0 = h.pop_all(0);  // older 0, 2
        auto w1 = h.pop_all(1);  // older 1, 3
        REQUIRE(w0.size() == 2);
        REQUIRE(w1.size() == 2);
        for (const auto& r : w1) CHECK(h.job_of(r) == older.id);
        for (const auto& r : w1) h.report(1, r);
        h.drain();
        auto newer_first = h.pop_all(1);  // the older job has nothing left to hand out
        REQUIRE(newer_first.size() == 2);
        for (const auto& r : newer_first) CHECK(h.job_of(r) == newer.id);

        h.start_running(0, w0[0]);
        h.kill(0);  // older 0 and 2 go back in line
        for (const auto& r : newer_first) h.report(1, r);
        h.drain();
        auto after = h.pop_all(1);
        REQUIRE(after.size() == 2);
        CHECK(h.job_of(after[0]) == older.id);
        CHECK(after[0].index == 0);
        CHECK(h.job_of(after[1]) == older.id);
        CHECK(after[1].index == 2);
        for (const auto& r : after) h.report(1, r);
        h.drain();
        CHECK(state_of(older) == "done");
        h.serve();
        CHECK(state_of(newer) == "done");
    }
}

TEST_CASE("a worker never has more than kRingSize ranges in flight", "[scheduler]") {
    Harness h({.workers = 2});
    Job& fast = h.submit_noop(3000, 1);
    Job& slow = h.submit_noop(40, 1);
    size_t most_queued = 0;
    auto check_depth = [&] {
        for (uint32_t s = 0; s < h.n_workers; ++s) {
            size_t queued = h.scheduler->worker_activity(s)["queued"].get<size_t>();
            REQUIRE(queued <= ctl::kRingSize);
            REQUIRE(h.worker(s).todo.size() <= queued);
            most_queued = std::max(most_queued, queued);
        }
    };
    // A slow worker: each round it runs one range (1 us, so the depth grows), then the daemon drains.
    for (bool moved = true; moved;) {
        moved = false;
        for (uint32_t s = 0; s < h.n_workers; ++s)
            if (auto r = h.pop(s)) {
                h.report(s, *r, RangeStatus::ok, "", h.job_of(*r) == fast.id ? 1000 : 10'000'000);
                moved = true;
            }
        h.drain();
        check_depth();
    }
    CHECK(state_of(fast) == "done");
    CHECK(state_of(slow) == "done");
    CHECK(most_queued > 2);  // the depth did grow past its starting value
    CHECK(most_queued <= ctl::kRingSize);
}

// ---- refused submissions --------------------------------------------------------------

TEST_CASE("submit refuses bad jobs with a stable code and leaves nothing behind", "[scheduler]") {
    Harness h({.workers = 2, .limits = {.max_ranges = 4}});
    DatasetPtr points = h.put_points("pts", 8, 2);
    DatasetPtr busy = h.put_points("busy", 8, 2, /*seal=*/false);
    DatasetPtr taken = h.put_points("taken", 1, 1);
    const std::set<std::string> names_before = h.dataset_names();
    const std::set<std::string> segments_before = h.segments();

    auto spec_with = [](std::string kernel, std::map<std::string, std::string> inputs, nlohmann::json params,
                        uint64_t chunk = 0, std::optional<std::string> output = {}) {
        JobSpec spec;
        spec.kernel = std::move(kernel);
        spec.inputs = std::move(inputs);
        spec.params = std::move(params);
        spec.chunk = chunk;
        spec.output = std::move(output);
        return spec;
    };
    const nlohmann::json none = nlohmann::json::object();
    JobSpec load_npy = spec_with("_load_npy", {}, {{"path", "/tmp/x.npy"}});

    CHECK(h.refusal(spec_with("no_such_kernel", {}, none)) == "unknown_kernel");
    CHECK(h.refusal(spec_with("", {}, none)) == "unknown_kernel");
    CHECK(h.refusal(load_npy) == "unknown_kernel");  // internal kernel from a client
    CHECK(h.refusal(spec_with("rbf", {}, none, 2)) == "missing_role");
    CHECK(h.refusal(spec_with("rbf", {{"points", "pts"}, {"extra", "pts"}}, none, 2)) == "unknown_role");
    CHECK(h.refusal(spec_with("noop", {{"points", "pts"}}, {{"rows", 4}})) == "unknown_role");
    CHECK(h.refusal(spec_with("rbf", {{"points", "nowhere"}}, none, 2)) == "unknown_dataset");
    CHECK(h.refusal(spec_with("rbf", {{"points", "busy"}}, none, 2)) == "dataset_busy");
    CHECK(h.refusal(spec_with("noop", {}, {{"rows", 5}}, 1)) == "too_many_ranges");  // 5 ranges > 4
    CHECK(h.refusal(spec_with("rbf", {{"points", "pts"}}, none, 1)) == "too_many_ranges");  // 8 ranges > 4
    CHECK(h.refusal(spec_with("rbf", {{"points", "pts"}}, none, 2, "taken")) == "dataset_exists");
    CHECK(h.refusal(spec_with("rbf", {{"points", "pts"}}, none, 2, "../escape")) == "bad_name");
    CHECK(h.refusal(spec_with("noop", {}, {{"rows", 4}}, 1, "out")) == "bad_request");  // noop writes none
    CHECK(h.refusal(spec_with("noop", {}, nlohmann::json::array(), 1)) == "bad_param");
    CHECK(h.refusal(spec_with("noop", {}, {{"rows", 0}}, 1)) == "bad_param");

    CHECK(h.dataset_names() == names_before);
    CHECK(h.segments() == segments_before);
    CHECK(h.scheduler->idle());
    CHECK(h.scheduler->stats()["jobs_running"] == 0);
    CHECK(h.scheduler->stats()["jobs_queued"] == 0);
    for (uint32_t s = 0; s < h.n_workers; ++s) CHECK(h.worker(s).todo.empty());

    // The limits are limits, not off by one: exactly max_ranges is accepted.
    Job& four = h.submit_noop(4, 1);
    CHECK(four.n_ranges == 4);
    load_npy.internal = true;  // the daemon's own request passes the name check
    CHECK(h.refusal(load_npy) != "unknown_kernel");
    h.serve();
    CHECK(state_of(four) == "done");
}

// ---- jobs that feed jobs (inputs still being written) ------------------------------------

namespace {
JobSpec one_input_spec(std::string kernel, std::string input, nlohmann::json params,
                       std::optional<std::string> output = {}, uint64_t chunk = 0) {
    JobSpec spec;
    spec.kernel = std::move(kernel);
    spec.inputs = {{"x", std::move(input)}};
    spec.params = std::move(params);
    spec.output = std::move(output);
    spec.chunk = chunk;
    return spec;
}
}  // namespace

TEST_CASE("a job whose input is an unsealed job output waits, then runs once it is sealed", "[scheduler][after]") {
    Harness h({.workers = 2});
    h.put_points("P", 12, 3);
    Job& producer = h.submit(Harness::rbf_spec("P", 3, "D"));
    Job& consumer = h.submit(one_input_spec("reduce", "D", {{"op", "sum"}}, std::nullopt, 4));
    CHECK(state_of(consumer) == "waiting");
    CHECK(consumer.n_ranges == 3);  // planned against D's shape at submission
    CHECK(h.scheduler->stats()["jobs_waiting"] == 1);

    // Until the producer is done, nothing of the consumer is handed out.
    std::vector<Popped> ran;
    for (uint32_t s = 0; s < h.n_workers; ++s)
        for (const RangeMsg& r : h.pop_all(s)) {
            CHECK(h.job_of(r) == producer.id);
            ran.push_back({s, h.job_of(r), r});
        }
    CHECK(state_of(consumer) == "waiting");
    for (const Popped& p : ran) h.report(p.slot, p.msg);
    h.drain();
    auto rest = h.serve();
    CHECK(state_of(producer) == "done");
    CHECK(state_of(consumer) == "done");
    auto counts = index_counts(rest, consumer.id);
    CHECK(counts.size() == 3);
    for (const auto& [index, n] : counts) CHECK(n == 1);
    CHECK(consumer.ranges_done == 3);
}

TEST_CASE("a failed or cancelled producer fails the jobs waiting on it, down the chain", "[scheduler][after]") {
    Harness h({.workers = 2});
    h.put_points("P", 8, 2);
    Job& producer = h.submit(Harness::rbf_spec("P", 2, "D"));
    Job& middle = h.submit(one_input_spec("map", "D", {{"op", "square"}}, "E"));
    Job& tail = h.submit(one_input_spec("map", "E", {{"op", "square"}}, "F"));
    CHECK(state_of(middle) == "waiting");
    CHECK(state_of(tail) == "waiting");

    h.scheduler->cancel(producer, ErrorCode::cancelled, "test cancels the producer");
    CHECK(state_of(middle) == "failed");
    CHECK(error_code_of(middle) == "dependency_failed");
    CHECK(error_message_of(middle).find("job " + std::to_string(producer.id)) != std::string::npos);
    CHECK(error_message_of(middle).find("cancelled") != std::string::npos);
    CHECK(state_of(tail) == "failed");
    CHECK(error_code_of(tail) == "dependency_failed");
    CHECK(h.dataset_names() == std::set<std::string>{"P"});  // D, E, F are gone
    h.serve();  // the producer's dispatched ranges come back as late completions
    CHECK(h.scheduler->idle());
    CHECK(h.scheduler->metrics().jobs_failed == 2);
    CHECK(h.scheduler->metrics().jobs_cancelled == 1);
}

TEST_CASE("a waiting job can be cancelled; its producer runs on", "[scheduler][after]") {
    Harness h({.workers = 2});
    h.put_points("P", 8, 2);
    Job& producer = h.submit(Harness::rbf_spec("P", 2, "D"));
    Job& consumer = h.submit(Harness::rbf_spec("D", 2, "G"));  // D is 8x8: fine as points
    CHECK(state_of(consumer) == "waiting");
    h.scheduler->cancel(consumer, ErrorCode::cancelled, "not needed");
    CHECK(state_of(consumer) == "cancelled");
    h.serve();
    CHECK(state_of(producer) == "done");
    CHECK(h.dataset_names() == std::set<std::string>{"D", "P"});
}

// ---- metrics -----------------------------------------------------------------------------

TEST_CASE("the latency histogram counts each job once, cumulatively, bounds inclusive", "[metrics]") {
    LatencyHistogram hist;
    for (double s : {0.0, 0.001, 0.0011, 0.7, 5.0, 9999.0, -1.0}) hist.observe(s);
    nlohmann::json j = hist.to_json();
    REQUIRE(j["buckets"].size() == LatencyHistogram::kBounds.size() + 1);
    CHECK(j["buckets"][0]["le"] == 0.001);
    CHECK(j["buckets"][0]["count"] == 3);  // 0, 0.001 (inclusive) and -1 clamped to 0
    CHECK(j["buckets"][1]["count"] == 4);  // + 0.0011 under 0.005
    uint64_t previous = 0;
    for (const auto& b : j["buckets"]) {
        CHECK(b["count"].get<uint64_t>() >= previous);
        previous = b["count"].get<uint64_t>();
    }
    CHECK(j["buckets"].back()["le"] == "+Inf");
    CHECK(j["buckets"].back()["count"] == 7);
    CHECK(j["buckets"][LatencyHistogram::kBounds.size() - 1]["count"] == 6);  // 9999 s only in +Inf
    CHECK(j["count"] == 7);
    CHECK(j["sum"].get<double>() == Approx(0.001 + 0.0011 + 0.7 + 5.0 + 9999.0));
}

TEST_CASE("scheduler metrics count submissions, outcomes, ranges and duplicates", "[metrics]") {
    Harness h({.workers = 2});
    Job& ok = h.submit_noop(6, 1);
    Job& cancelled = h.submit_noop(4, 1);
    h.scheduler->cancel(cancelled, ErrorCode::cancelled, "test");
    h.serve();
    const SchedulerMetrics& m = h.scheduler->metrics();
    CHECK(state_of(ok) == "done");
    CHECK(m.jobs_submitted == 2);
    CHECK(m.jobs_done == 1);
    CHECK(m.jobs_cancelled == 1);
    CHECK(m.ranges_run >= 6);
    CHECK(m.job_latency_s.count() == 2);
}

// ---- counts kept as jobs change state (issue #17) -------------------------------------

namespace {

// The scheduler's kept counts and indexes against a scan of every job it still holds (found by
// id among all ids it gave out): counts by state, the jobs not ended in id order, each
// session's jobs, idle(), stats(); and, when nothing was pruned, the outcome metrics too.
void check_counts_against_scan(const Harness& h, const std::vector<uint64_t>& ids, bool nothing_pruned) {
    const Scheduler& s = *h.scheduler;
    std::array<size_t, JobIndex::kStates> scanned{};
    std::vector<uint64_t> unended;
    std::map<uint64_t, std::vector<uint64_t>> of_session;
    for (uint64_t id : ids) {
        const Job* job = s.find_job(id);
        if (!job) continue;
        scanned[static_cast<size_t>(job->state)] += 1;
        if (job->ended_state()) continue;
        unended.push_back(id);
        if (job->owner_session) of_session[job->owner_session].push_back(id);
    }
    for (size_t st = 0; st < JobIndex::kStates; ++st) {
        INFO("state " << job_state_name(static_cast<JobState>(st)));
        CHECK(s.index().count(static_cast<JobState>(st)) == scanned[st]);
    }
    std::vector<uint64_t> indexed;
    for (const auto& kv : s.index().unended()) indexed.push_back(kv.first);
    CHECK(indexed == unended);
    for (uint64_t session = 1; session <= 3; ++session)
        CHECK(s.index().unended_of_session(session) == of_session[session]);
    CHECK(s.idle() == unended.empty());
    nlohmann::json stats = s.stats();
    CHECK(stats["jobs_running"] == scanned[static_cast<size_t>(JobState::running)]);
    CHECK(stats["jobs_queued"] == scanned[static_cast<size_t>(JobState::queued)]);
    CHECK(stats["jobs_waiting"] == scanned[static_cast<size_t>(JobState::waiting)]);
    if (!nothing_pruned) return;
    const SchedulerMetrics& m = s.metrics();
    CHECK(m.jobs_submitted == ids.size());
    CHECK(m.jobs_done == scanned[static_cast<size_t>(JobState::done)]);
    CHECK(m.jobs_failed == scanned[static_cast<size_t>(JobState::failed)]);
    CHECK(m.jobs_cancelled == scanned[static_cast<size_t>(JobState::cancelled)]);
    CHECK(m.jobs_timed_out == scanned[static_cast<size_t>(JobState::timed_out)]);
}

// One random step of a daemon's life: submits (some waiting on another job's output, some
// owned by a session), workers finishing, failing or dying on ranges, cancels, timeouts and
// disconnects.
struct RandomLife {
    RandomLife(Harness& harness, uint64_t seed) : h(harness), rng(seed) {}

    Harness& h;
    std::mt19937_64 rng;
    std::vector<uint64_t> ids;
    int outputs = 0;

    uint64_t pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); }

    std::optional<uint64_t> some_unended_job() {
        const auto& unended = h.scheduler->index().unended();
        if (unended.empty()) return std::nullopt;
        auto it = unended.begin();
        std::advance(it, static_cast<long>(pick(unended.size())));
        return it->first;
    }

    void submit() {
        if (pick(40) == 0)  // a burst past the descriptor slots: some jobs wait queued
            for (uint32_t i = 0; i < ctl::kMaxJobSlots; ++i) submit_noop();
        submit_noop();
    }

    void submit_noop() {
        JobSpec spec = Harness::noop_spec(1 + pick(6), 1 + pick(2));
        if (pick(4) == 0) {  // a producer and a consumer waiting on its output
            std::string out = "D" + std::to_string(++outputs);
            ids.push_back(h.submit(Harness::rbf_spec("P", 2, out)).id);
            spec = one_input_spec("map", out, {{"op", "square"}}, "E" + std::to_string(outputs), 8);
        }
        spec.owner_session = pick(4);  // 0: no session waits on it
        ids.push_back(h.submit(spec).id);
    }

    void work() {
        uint32_t slot = static_cast<uint32_t>(pick(h.n_workers));
        auto r = h.pop(slot);
        if (!r) return;
        uint64_t dice = pick(20);
        if (dice == 0) {  // the worker dies running it
            h.start_running(slot, *r);
            h.kill(slot);
            h.up(slot);
            return;
        }
        h.report(slot, *r, dice == 1 ? RangeStatus::kernel_error : RangeStatus::ok, dice == 1 ? "by test" : "");
        h.drain();
    }

    void step() {
        switch (pick(10)) {
            case 0:
            case 1: submit(); break;
            case 2:
                if (auto id = some_unended_job()) h.scheduler->cancel(h.scheduler->get(*id), ErrorCode::cancelled, "by test");
                break;
            case 3:
                if (auto id = some_unended_job())
                    h.scheduler->cancel(h.scheduler->get(*id), ErrorCode::timed_out, "by test", JobState::timed_out);
                break;
            case 4: h.scheduler->cancel_jobs_of_session(1 + pick(3)); break;
            default: work();
        }
    }
};

}  // namespace

TEST_CASE("job counts, the unended index and each session's jobs agree with a scan of the table after random events",
          "[scheduler][counts]") {
    size_t kept = GENERATE(as<size_t>{}, 5, 1000000);
    uint64_t seed = GENERATE(as<uint64_t>{}, 1, 2, 3);
    SchedulerLimits limits;
    limits.finished_jobs_kept = kept;
    Harness h({.workers = 2, .limits = limits});
    h.put_points("P", 6, 2);
    RandomLife life(h, seed);
    for (int i = 0; i < 1500; ++i) {
        life.step();
        check_counts_against_scan(h, life.ids, kept > life.ids.size());
    }
    h.serve();  // everything still handed out comes back; every job ends
    check_counts_against_scan(h, life.ids, kept > life.ids.size());
    CHECK(h.scheduler->idle());
    CHECK(h.scheduler->index().unended().empty());
    uint64_t ended = 0;
    for (JobState st : {JobState::done, JobState::failed, JobState::cancelled, JobState::timed_out})
        ended += h.scheduler->index().count(st);
    if (kept > life.ids.size()) {
        CHECK(ended == life.ids.size());
    } else {  // pruned down to what is kept, oldest first; none pruned that still had ranges out
        CHECK(ended >= kept);
        CHECK(ended <= kept + ctl::kMaxJobSlots);
    }
}

// ---- result objects (Python jobs' return values) ---------------------------------------

namespace {

// What a worker of a python job does after a range: writes its result object (named by the
// dispatch's tag) and reports its size.
std::string write_result(Harness& h, const RangeMsg& r) {
    std::string name = result_object_name(h.instance, h.job_of(r), r.tag);
    Segment::create(name, 64);
    return name;
}

JobSpec python_spec(uint64_t rows) {
    JobSpec spec;
    spec.kernel = "python";
    spec.params = {{"rows", rows}, {"python", "3.11"}, {"function", "builtins:max"}};
    spec.chunk = 1;
    return spec;
}

}  // namespace

TEST_CASE("a python job keeps one result object per range; a dead worker's and a superseded one's go",
          "[scheduler][results]") {
    Harness h({.workers = 1});
    Job& job = h.submit(python_spec(3));
    auto held = h.pop_all(0);
    REQUIRE(held.size() == 2);
    std::string first = write_result(h, held[0]);
    h.report(0, held[0], RangeStatus::ok, "", 0, 64);
    std::string half_written = write_result(h, held[1]);  // written, then the worker dies unreported
    h.start_running(0, held[1]);
    h.kill(0);
    CHECK(h.segments().count(first) == 1);
    CHECK(h.segments().count(half_written) == 0);
    h.up(0);
    std::set<std::string> kept = {first};
    for (bool moved = true; moved;) {
        moved = false;
        for (const RangeMsg& r : h.pop_all(0)) {
            CHECK(r.tag != held[1].tag);  // a rerun is a new dispatch with its own object
            kept.insert(write_result(h, r));
            h.report(0, r, RangeStatus::ok, "", 0, 64);
            moved = true;
        }
        h.drain();
    }
    CHECK(state_of(job) == "done");
    CHECK(job.results.count() == 3);
    CHECK(h.segments() == kept);
    h.report(0, held[0], RangeStatus::ok, "", 0, 64);  // a repeated completion never removes the kept object
    h.drain();
    CHECK(h.segments() == kept);
    job.results.drop_all();
    CHECK(h.segments().empty());
}

TEST_CASE("a failed python job removes the result objects it had kept", "[scheduler][results]") {
    Harness h({.workers = 1});
    Job& job = h.submit(python_spec(4));
    auto held = h.pop_all(0);
    REQUIRE(held.size() == 2);
    write_result(h, held[0]);
    h.report(0, held[0], RangeStatus::ok, "", 0, 64);
    h.report(0, held[1], RangeStatus::python_error, "Traceback ... ValueError: boom");
    h.drain();
    CHECK(state_of(job) == "failed");
    CHECK(error_code_of(job) == "python_error");
    CHECK(h.segments().empty());
}

