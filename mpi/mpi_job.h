// One job on this rank and across all: run the ranges the dealer hands this rank, then gather
// every rank's partials and failures on rank 0, which accounts each range once, in range order.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/job_reply.h"
#include "mpi/output_file.h"
#include "mpi/range_dealer.h"
#include "worker/job_request.h"

namespace shmpool::mpi {

struct RangeFailure {
    uint64_t index = 0;
    JobError error;  // code and "range I [b, e): why", as the daemon words it
};

// What one rank did.
struct RankWork {
    uint64_t ranges_run = 0;
    std::vector<std::pair<uint64_t, Partial>> partials;  // reducing jobs: (range index, its partial)
    std::optional<RangeFailure> failure;                 // the range that failed here, if one did
};

// Where ranges write: both null for a kernel without output, `file` null without --out.
// `by_row`: range [b, e) writes output rows [b, e) (plan rows == output rows), so each range
// goes to the file as soon as it is done; otherwise the ranks' rows are merged at the end.
struct OutputSink {
    OutputRows* rows = nullptr;
    OutputFile* file = nullptr;
    bool by_row = true;
};

// Takes ranges from `dealer` until none is left or one fails (then it stops the dealer, so
// the other ranks stop too). The kernel starts with the first range, as in a worker.
RankWork run_dealt_ranges(const Kernel& kernel, const RunContext& ctx, const PlannedJob& job, RangeDealer& dealer,
                          OutputSink out);

// The job as rank 0 sees it once every rank's work is gathered (collective over `comm`).
struct JobOutcome {
    uint64_t ranges_done = 0;
    std::vector<uint64_t> ranges_by_rank;
    std::optional<Reduced> reduced;  // a reducing job that is done
    std::optional<JobError> error;   // the failure of the lowest failed range
};
JobOutcome gather_outcome(MPI_Comm comm, const RankWork& work, const PlannedJob& job);

}  // namespace shmpool::mpi
