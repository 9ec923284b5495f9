// Runs a plugin kernel's plan callback in a short-lived forked child, so a plan that crashes,
// hangs or corrupts memory fails one submit instead of the daemon that called it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "include/shmpool/kernel.h"

namespace shmpool {

// What the plan callback returned and wrote, copied back from the child.
struct PlanReply {
    int32_t status = SHMPOOL_ERR_FAILED;
    shmpool_plan plan{};
    char message[SHMPOOL_MESSAGE_BYTES] = {};
};

// Longest a plan may take; the daemon's loop waits for it (plans only validate).
constexpr auto kPluginPlanTimeout = std::chrono::seconds(2);

// Calls desc.plan(params, inputs) in a child and returns its reply. Throws Error(internal)
// naming `who` when the child dies, hangs past kPluginPlanTimeout or sends no reply, and
// Error(io_error) when no child can be made. The caller must have no other threads.
PlanReply plan_in_child(const shmpool_kernel& desc, const std::string& params,
                        const std::vector<shmpool_input_meta>& inputs, const std::string& who);

}  // namespace shmpool
