// Who may run code (users' Python functions) on the workers, which run as the daemon's user:
// one rule, meant to move into the central access policy with the other verbs' rules.
#pragma once

#include "server/api/peer_access.h"

namespace shmpool {

// Throws Error(code_not_allowed) unless `peer` is the daemon's uid, root, or named by the
// code-users / code-groups settings that `code_runners` was built from.
void require_may_run_code(const PeerPolicy& code_runners, const PeerCred& peer);

}  // namespace shmpool
