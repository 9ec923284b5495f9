// shmpool-mpi's command line: `run KERNEL --in ROLE=FILE.npy... [--param KEY=VALUE...]
// [--out FILE.npy] [--chunk ROWS] [--json] [--kernel-dir DIR]`, parsed the way the CLI parses it.
#include "mpi/request.h"

#include <string_view>
#include <vector>

#include "client/command.h"
#include "client/command_values.h"

namespace shmpool::mpi {

const char* const kUsage =
    "usage: mpirun -n R shmpool-mpi run KERNEL --in ROLE=FILE.npy... [--param KEY=VALUE...]\n"
    "                                [--out FILE.npy] [--chunk ROWS] [--json] [--kernel-dir DIR]\n"
    "Runs one shmpool kernel across the MPI ranks: inputs once per node in shared memory, ranges\n"
    "dealt dynamically, the output written with MPI-IO, reductions combined in range order.\n";

namespace {

struct Words {
    std::vector<std::string> in, param;
};

// The value after option argv[i]; a usage error when it is missing.
std::string value_of(int argc, char** argv, int& i) {
    if (i + 1 >= argc) throw cli::UsageError(std::string(argv[i]) + " needs a value", "run");
    return argv[++i];
}

}  // namespace

RunRequest parse_run_request(int argc, char** argv, bool* help) {
    *help = false;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
            *help = true;
            return {};
        }
    }
    if (argc < 2 || std::string_view(argv[1]) != "run") throw cli::UsageError("the only command is 'run'");
    if (argc < 3 || argv[2][0] == '-') throw cli::UsageError("run needs a KERNEL name", "run");
    RunRequest req;
    req.kernel = argv[2];
    Words words;
    for (int i = 3; i < argc; ++i) {
        std::string_view opt = argv[i];
        if (opt == "--in") words.in.push_back(value_of(argc, argv, i));
        else if (opt == "--param") words.param.push_back(value_of(argc, argv, i));
        else if (opt == "--out") req.out = value_of(argc, argv, i);
        else if (opt == "--chunk") req.chunk = cli::parse_count(value_of(argc, argv, i), "--chunk");
        else if (opt == "--kernel-dir") req.kernel_dir = value_of(argc, argv, i);
        else if (opt == "--json") req.json = true;
        else throw cli::UsageError("unknown option '" + std::string(opt) + "'", "run");
    }
    req.inputs = cli::parse_assignments(words.in, "--in", "ROLE=FILE.npy");
    req.params = cli::parse_params(words.param);
    return req;
}

}  // namespace shmpool::mpi
