// Layout of an instance's control segment: job descriptors, one slot per worker with two
// lock-free rings (daemon -> worker ranges, worker -> daemon completions), a deletion log.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/partial.h"
#include "common/spsc_ring.h"

namespace shmpool::ctl {

constexpr uint32_t kMagic = 0x53504f4c;  // "SPOL"
constexpr uint32_t kLayoutVersion = 4;  // 3: Partial carries exact integers; 4: range tags, result objects, 8 roles
constexpr uint32_t kRingSize = 64;       // ranges in flight per worker, at most
constexpr uint32_t kMaxJobSlots = 256;   // jobs dispatching at once
constexpr uint32_t kMaxRoles = 8;  // a Python job's code and its inputs (plugins: SHMPOOL_MAX_ROLES)
constexpr uint32_t kRoleBytes = 32;
constexpr uint32_t kKernelNameBytes = 48;
constexpr uint32_t kParamsBytes = 8192;
constexpr uint32_t kDeleteLogSize = 256;
constexpr uint32_t kMessageBytes = 1024;  // room for a Python traceback's last frames
constexpr uint32_t kMaxWorkers = 256;

// A dataset as a worker finds it: segment number, type and shape.
struct DatasetRef {
    uint64_t id = 0;       // the segment's name (shmpool.<inst>.ds<id>); 0: none
    uint64_t backing = 0;  // the segment's first number, kept when a spare is renamed to a new
                           // dataset: workers key their mappings by it and the deletion log names it
    uint64_t bytes = 0;
    uint8_t dtype = 0;
    uint8_t ndim = 0;
    uint64_t dims[4] = {};
};

// Written by the daemon before it publishes any range of the job (the ring's release store
// orders it); read-only for workers. A slot is reused only when no range of it is in flight.
struct JobDesc {
    std::atomic<uint32_t> cancelled;  // workers skip ranges of a cancelled job
    std::atomic<uint32_t> generation;  // bumped when a job is published here and when it leaves
    uint64_t job_id;
    uint64_t rows;  // the index space [0, rows) its ranges cover
    char kernel[kKernelNameBytes];
    uint32_t n_inputs;
    char roles[kMaxRoles][kRoleBytes];
    DatasetRef inputs[kMaxRoles];
    DatasetRef output;
    uint32_t params_len;
    char params[kParamsBytes];  // JSON text
};

struct RangeMsg {
    uint32_t job_slot;
    uint32_t generation;
    uint64_t index;  // which range of the job
    uint64_t begin;
    uint64_t end;
    uint32_t attempt;
    uint32_t tag;  // unique per dispatch: names the range's result object (result_object_name)
};

enum class RangeStatus : int32_t {
    ok = 0,
    kernel_error = 1,
    skipped = 2,
    out_of_memory = 3,
    no_space = 4,
    python_error = 5,  // the job's Python function raised: the message is its traceback
};

struct DoneMsg {
    uint32_t job_slot;
    uint32_t generation;
    uint64_t index;
    RangeStatus status;
    uint32_t attempt;
    uint64_t elapsed_ns;
    Partial partial;              // reducing kernels: the range's share
    uint64_t result_bytes;        // >0: the range wrote its result object (a Python job's return values)
    char message[kMessageBytes];  // kernel_error, python_error: why
};

struct alignas(64) WorkerSlot {
    std::atomic<uint32_t> doorbell;  // futex word: bumped by the daemon after a push
    std::atomic<uint32_t> sleeping;  // the worker is (about to be) in futex_wait
    // What the worker runs now, for `workers` and to blame a range when the worker dies.
    std::atomic<uint64_t> running_job;  // 0: idle
    std::atomic<uint64_t> running_index;
    std::atomic<uint64_t> running_begin;
    std::atomic<uint64_t> running_end;
    SpscRing<RangeMsg, kRingSize> todo;  // daemon produces, worker consumes
    SpscRing<DoneMsg, kRingSize> done;   // worker produces, daemon consumes

    void reset();
};

struct alignas(64) Header {
    uint32_t magic;
    uint32_t version;
    uint32_t n_workers;
    std::atomic<uint32_t> daemon_sleeping;  // workers write the eventfd only when set
    // Backing numbers of removed segments, a ring written only by the daemon (through
    // log_removed_segment); workers drop their mappings of them.
    std::atomic<uint64_t> deleted_count;
    uint64_t deleted_ids[kDeleteLogSize];
    JobDesc jobs[kMaxJobSlots];

    WorkerSlot* workers() { return reinterpret_cast<WorkerSlot*>(this + 1); }
};

static_assert(sizeof(Header) % alignof(WorkerSlot) == 0);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

// Tells the workers that the segment with this backing number is gone (they unmap it).
void log_removed_segment(Header* header, uint64_t backing);

size_t control_bytes(uint32_t n_workers);
// Constructs a fresh header and n_workers empty slots in zeroed memory.
Header* init_control(void* memory, uint32_t n_workers);

}  // namespace shmpool::ctl
