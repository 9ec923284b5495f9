// The kernel interface: a plan step the daemon runs to validate a job, and a run step a
// worker runs over an index range [begin, end). Built-in kernels implement it directly.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/array_meta.h"  // ArrayMeta, DType, Shape
#include "common/job_plan.h"    // Plan, PlanInput (the daemon's side of a kernel)
#include "common/partial.h"

namespace shmpool {

// A mapped dataset as a kernel sees it. Inputs are read-only; the output is writable.
struct ArrayView {
    ArrayMeta meta;
    const void* data = nullptr;
    void* writable = nullptr;  // only for the output

    template <class T> const T* as() const { return static_cast<const T*>(data); }
    template <class T> T* out() const { return static_cast<T*>(writable); }
};

// What a worker hands a kernel for one job; valid for the whole job.
struct RunContext {
    const nlohmann::json& params;
    std::map<std::string, ArrayView> inputs;
    ArrayView output;
};

// A kernel fails a range on purpose (bad input found at run time) by throwing this.
class KernelError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Per-job state in a worker (parsed params, precomputed norms...). A kernel that writes an
// output overrides run(); one that reduces overrides reduce() and returns the range's
// partial. Either may be called several times for different ranges, in any order.
class KernelRun {
public:
    virtual ~KernelRun() = default;
    virtual void run(uint64_t begin, uint64_t end) { (void)begin, (void)end; }
    virtual Partial reduce(uint64_t begin, uint64_t end) {
        run(begin, end);
        return {};
    }
    // After a range ran: writes what it returned, if anything, as the shm object `object_name`
    // (created here, never left half-written) and returns its bytes; 0: nothing to return.
    virtual uint64_t store_result(const std::string& object_name) {
        (void)object_name;
        return 0;
    }
};

class Kernel {
public:
    virtual ~Kernel() = default;
    virtual std::string name() const = 0;
    virtual std::vector<std::string> roles() const = 0;
    virtual nlohmann::json describe_params() const = 0;  // {"param": "meaning"}
    virtual std::string description() const = 0;
    // Test kernels (crash on purpose) run only on a daemon started with --enable-test-kernels.
    virtual bool test_only() const { return false; }
    // The client names the input roles (up to ctl::kMaxRoles); roles() lists those it must give.
    virtual bool any_roles() const { return false; }
    // It runs code the client sends (Python): only peers the code policy trusts may submit it.
    virtual bool runs_client_code() const { return false; }
    // Validates inputs and params (throws Error with a stable code); never computes.
    virtual Plan plan(const PlanInput& in) const = 0;
    virtual std::unique_ptr<KernelRun> start(const RunContext& ctx) const = 0;
};

// Built-ins, internal and registered kernels, by name. Internal kernels start with '_' and
// are not accepted from clients.
const Kernel* find_kernel(const std::string& name);
std::vector<const Kernel*> all_kernels();
// Adds a kernel loaded at run time (a plugin, worker/plugin_loader.h) after the built-ins.
// Only the daemon calls it, before any worker forks: workers inherit the table, no locking.
// Throws Error(internal) if the name is taken.
void register_kernel(std::unique_ptr<Kernel> kernel);

}  // namespace shmpool
