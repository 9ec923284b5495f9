// Handlers of the daemon-wide verbs: ping, workers, kernels, shutdown.
// They only read state the loop already has; none of them waits.
#include <unistd.h>

#include "server/daemon.h"
#include "server/router.h"

namespace shmpool {

void handle_ping(const Call& c) {
    c.ok({{"pong", true},
          {"version", SHMPOOL_VERSION},
          {"instance", c.daemon->options().instance},
          {"pid", getpid()},
          {"workers", c.daemon->pool().alive()},
          {"jobs", c.daemon->scheduler().stats()}});
}

void handle_workers(const Call& c) { c.ok({{"workers", c.daemon->pool().describe()}}); }

void handle_kernels(const Call& c) {
    nlohmann::json list = nlohmann::json::array();
    for (const Kernel* k : all_kernels()) {
        if (k->name().starts_with('_')) continue;  // the daemon's own I/O kernels
        if (k->test_only() && !c.daemon->options().test_kernels) continue;
        list.push_back({{"name", k->name()},
                        {"roles", k->roles()},
                        {"params", k->describe_params()},
                        {"description", k->description()}});
    }
    c.ok({{"kernels", list}});
}

void handle_shutdown(const Call& c) {
    c.ok({{"stopping", true}});
    c.daemon->begin_shutdown("shutdown requested by a client");
}

}  // namespace shmpool
