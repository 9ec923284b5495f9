// `shmpool top`: samples the daemon's `stats` and `workers` every --interval ms and redraws a
// frame (the screen is cleared only on a terminal); --once prints a single frame.
#pragma once

#include "client/client.h"
#include "client/command.h"

namespace shmpool::cli {

// Runs until interrupted, or for one frame with --once. Returns the exit status (0).
int run_top(Client& client, const Command& cmd);

}  // namespace shmpool::cli
