// The worker process: pops ranges from its slot's ring, runs kernels, reports completions.
// It holds no lock while a kernel runs and may be killed at any instruction.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/control.h"

namespace shmpool {

struct WorkerContext {
    ctl::Header* control = nullptr;
    uint32_t slot = 0;
    int notify_fd = -1;  // eventfd the daemon watches for completions
    pid_t daemon_pid = 0;
    std::string instance;
};

// Runs until the daemon goes away; never returns.
[[noreturn]] void worker_main(const WorkerContext& ctx);

}  // namespace shmpool
