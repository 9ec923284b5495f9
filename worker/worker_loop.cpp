// The worker process: pops ranges from its slot's ring, runs kernels, reports completions.
// It holds no lock while a kernel runs and may be killed at any instruction.
#include "worker/worker_loop.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include "common/error.h"
#include "common/futex.h"
#include "common/names.h"
#include "worker/kernel.h"
#include "worker/mapping_cache.h"

namespace shmpool {
namespace {

constexpr int kIdleCheckMs = 500;  // how often an idle worker checks its daemon is alive

ArrayMeta meta_of(const ctl::DatasetRef& ref) {
    ArrayMeta m;
    m.dtype = static_cast<DType>(ref.dtype);
    m.shape.ndim = ref.ndim;
    for (int i = 0; i < ref.ndim; ++i) m.shape.dims[i] = ref.dims[i];
    return m;
}

// What a worker keeps per job: parsed params, pinned mappings and the kernel's state.
struct JobState {
    uint32_t generation = 0;
    nlohmann::json params;
    std::vector<std::shared_ptr<const Segment>> pins;
    std::shared_ptr<const Segment> output;
    uint64_t output_bytes = 0;  // the output's own size; its mapping may be longer (a spare cut since)
    uint64_t rows = 0;          // the job's index space, to find a range's share of the output
    std::unique_ptr<KernelRun> run;

    // Allocates the output pages this range writes (its proportional share, page-rounded),
    // in one call instead of a fault per page, and as a clean error when /dev/shm is full.
    void populate_output(uint64_t begin, uint64_t end) const {
        if (!output || rows == 0) return;
        uint64_t bytes = output_bytes;
        auto share = [&](uint64_t i) { return static_cast<uint64_t>(static_cast<long double>(bytes) * i / rows); };
        output->populate_writable(share(begin), share(end) - share(begin));
    }
};

class Worker {
public:
    explicit Worker(const WorkerContext& ctx)
        : ctx_(ctx),
          slot_(ctx.control->workers()[ctx.slot]),
          maps_(ctx.instance),
          deletions_seen_(ctx.control->deleted_count.load(std::memory_order_acquire)) {}

    [[noreturn]] void loop() {
        for (;;) {
            ctl::RangeMsg msg;
            if (!slot_.todo.pop(msg)) {
                wait_for_work();
                continue;
            }
            sync_deletions();
            ctl::DoneMsg done = run_range(msg);
            report(done);
            if (done.status == ctl::RangeStatus::out_of_memory) _exit(0);  // a fresh heap for the next range
        }
    }

private:
    // Drops finished jobs' state and deleted datasets' mappings first: the loop comes back here
    // after every wake that brought no work (the 500 ms idle check included), so an idle
    // worker lets go of an ended job, and of a deleted dataset's pages, within that period.
    void wait_for_work() {
        forget_finished_jobs();
        sync_deletions();
        slot_.sleeping.store(1, std::memory_order_seq_cst);
        uint32_t seen = slot_.doorbell.load(std::memory_order_seq_cst);
        if (slot_.todo.empty()) futex_wait(slot_.doorbell, seen, kIdleCheckMs);
        slot_.sleeping.store(0, std::memory_order_relaxed);
        if (getppid() != ctx_.daemon_pid) _exit(0);  // the daemon is gone
    }

    ctl::DoneMsg run_range(const ctl::RangeMsg& msg) {
        ctl::DoneMsg done{};
        done.job_slot = msg.job_slot;
        done.generation = msg.generation;
        done.index = msg.index;
        done.attempt = msg.attempt;
        const ctl::JobDesc& desc = ctx_.control->jobs[msg.job_slot];
        if (desc.generation != msg.generation || desc.cancelled.load(std::memory_order_acquire)) {
            done.status = ctl::RangeStatus::skipped;
            return done;
        }
        auto t0 = std::chrono::steady_clock::now();
        try {
            mark_running(desc.job_id, msg);  // first: a kernel's start that kills the worker counts as an attempt
            JobState& job = job_for(msg.job_slot, desc);
            job.populate_output(msg.begin, msg.end);
            done.partial = job.run->reduce(msg.begin, msg.end);
            done.result_bytes = job.run->store_result(result_object_name(ctx_.instance, desc.job_id, msg.tag));
            done.status = ctl::RangeStatus::ok;
        } catch (const Error& e) {
            done.status = e.code() == ErrorCode::no_space       ? ctl::RangeStatus::no_space
                          : e.code() == ErrorCode::python_error ? ctl::RangeStatus::python_error
                                                                : ctl::RangeStatus::kernel_error;
            std::strncpy(done.message, e.what(), sizeof done.message - 1);
        } catch (const std::bad_alloc&) {
            done.status = ctl::RangeStatus::out_of_memory;
            std::strncpy(done.message, "the kernel ran out of memory (worker memory limit)", sizeof done.message - 1);
        } catch (const std::exception& e) {
            done.status = ctl::RangeStatus::kernel_error;
            std::strncpy(done.message, e.what(), sizeof done.message - 1);
        }
        slot_.running_job.store(0, std::memory_order_relaxed);
        done.elapsed_ns = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
        return done;
    }

    void mark_running(uint64_t job_id, const ctl::RangeMsg& msg) {
        slot_.running_index.store(msg.index, std::memory_order_relaxed);
        slot_.running_begin.store(msg.begin, std::memory_order_relaxed);
        slot_.running_end.store(msg.end, std::memory_order_relaxed);
        slot_.running_job.store(job_id, std::memory_order_release);
    }

    JobState& job_for(uint32_t job_slot, const ctl::JobDesc& desc) {
        auto it = jobs_.find(job_slot);
        if (it != jobs_.end() && it->second.generation == desc.generation) return it->second;
        forget_finished_jobs();
        JobState state = start_job(desc);
        return jobs_[job_slot] = std::move(state);
    }

    JobState start_job(const ctl::JobDesc& desc) {
        const Kernel* kernel = find_kernel(std::string(desc.kernel, strnlen(desc.kernel, sizeof desc.kernel)));
        if (!kernel) throw Error(ErrorCode::internal, "worker has no kernel '" + std::string(desc.kernel) + "'");
        JobState state;
        state.generation = desc.generation;
        state.rows = desc.rows;
        state.params = nlohmann::json::parse(std::string_view(desc.params, desc.params_len));
        RunContext ctx{state.params, {}, {}};
        for (uint32_t i = 0; i < desc.n_inputs; ++i) {
            const ctl::DatasetRef& ref = desc.inputs[i];
            auto seg = maps_.get(ref, false);
            state.pins.push_back(seg);
            std::string role(desc.roles[i], strnlen(desc.roles[i], ctl::kRoleBytes));
            ctx.inputs.emplace(role, ArrayView{meta_of(ref), seg->data(), nullptr});
        }
        if (desc.output.id != 0) {
            state.output = maps_.get(desc.output, true);
            state.output_bytes = desc.output.bytes;
            ctx.output = ArrayView{meta_of(desc.output), state.output->data(), state.output->data()};
        }
        state.run = kernel->start(ctx);
        return state;
    }

    // Drops the state of jobs whose slot the daemon has since reused or retired.
    void forget_finished_jobs() {
        std::erase_if(jobs_, [&](const auto& kv) {
            return ctx_.control->jobs[kv.first].generation != kv.second.generation;
        });
    }

    void sync_deletions() {
        uint64_t count = ctx_.control->deleted_count.load(std::memory_order_acquire);
        if (count == deletions_seen_) return;
        if (count - deletions_seen_ > ctl::kDeleteLogSize) {
            maps_.clear();  // fell behind the log: forget everything, remap lazily
        } else {
            for (uint64_t i = deletions_seen_; i < count; ++i)
                maps_.drop(ctx_.control->deleted_ids[i % ctl::kDeleteLogSize]);
        }
        deletions_seen_ = count;
    }

    void report(const ctl::DoneMsg& done) {
        // The daemon keeps at most kRingSize ranges in flight per worker, so this never fails.
        slot_.done.push(done);
        if (ctx_.control->daemon_sleeping.exchange(0, std::memory_order_seq_cst) == 1) {
            uint64_t one = 1;
            ssize_t n = write(ctx_.notify_fd, &one, sizeof one);
            (void)n;  // eventfd writes cannot fail short; a dead daemon is noticed in wait_for_work
        }
    }

    const WorkerContext& ctx_;
    ctl::WorkerSlot& slot_;
    MappingCache maps_;
    std::unordered_map<uint32_t, JobState> jobs_;
    uint64_t deletions_seen_;
};

}  // namespace

void worker_main(const WorkerContext& ctx) {
    Worker worker(ctx);
    worker.loop();
}

}  // namespace shmpool
