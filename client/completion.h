// Shell completion for the shmpool CLI, generated from its command table (command_specs), so
// the script cannot drift from the commands and options the CLI really takes.
#pragma once

#include <string>

namespace shmpool::cli {

// A bash script that completes `shmpool` commands, their options and global options
// (`source <(shmpool completion bash)`); file names where an option or argument takes a path.
std::string bash_completion();

}  // namespace shmpool::cli
