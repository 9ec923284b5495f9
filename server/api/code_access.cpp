// Who may run code (users' Python functions) on the workers, which run as the daemon's user:
// the daemon's uid and root, widened only by the code-users / code-groups settings.
#include "server/api/code_access.h"

#include "common/error.h"

namespace shmpool {

void require_may_run_code(const PeerPolicy& code_runners, const PeerCred& peer) {
    if (code_runners.allows(peer)) return;
    throw Error(ErrorCode::code_not_allowed,
                "uid " + std::to_string(peer.uid) +
                    " may not run code on this daemon: its workers run as the daemon's user (allow it with "
                    "code-users or code-groups, docs/security.md)");
}

}  // namespace shmpool
