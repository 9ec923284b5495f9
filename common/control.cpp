// Construction of the control segment's layout, done once by the daemon before any worker
// exists (workers never allocate or construct anything in shared memory).
#include "common/control.h"

#include <new>

namespace shmpool::ctl {

void WorkerSlot::reset() {
    doorbell.store(0, std::memory_order_relaxed);
    sleeping.store(0, std::memory_order_relaxed);
    running_job.store(0, std::memory_order_relaxed);
    running_index.store(0, std::memory_order_relaxed);
    running_begin.store(0, std::memory_order_relaxed);
    running_end.store(0, std::memory_order_relaxed);
    todo.reset();
    done.reset();
}

void log_removed_segment(Header* header, uint64_t backing) {
    uint64_t n = header->deleted_count.load(std::memory_order_relaxed);
    header->deleted_ids[n % kDeleteLogSize] = backing;
    header->deleted_count.store(n + 1, std::memory_order_release);
}

size_t control_bytes(uint32_t n_workers) { return sizeof(Header) + n_workers * sizeof(WorkerSlot); }

Header* init_control(void* memory, uint32_t n_workers) {
    auto* hdr = new (memory) Header{};
    hdr->magic = kMagic;
    hdr->version = kLayoutVersion;
    hdr->n_workers = n_workers;
    for (uint32_t i = 0; i < n_workers; ++i) new (&hdr->workers()[i]) WorkerSlot{};
    return hdr;
}

}  // namespace shmpool::ctl
