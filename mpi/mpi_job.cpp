// One job on this rank and across all: run the ranges the dealer hands this rank, then gather
// every rank's partials and failures on rank 0, which accounts each range once, in range order.
#include "mpi/mpi_job.h"

#include <cstring>
#include <new>
#include <type_traits>

#include "common/control.h"
#include "mpi/collective.h"

namespace shmpool::mpi {
namespace {

// A range's failure worded as the daemon words it: the worker's status and message
// (cut to a completion's message size), prefixed by the range.
RangeFailure failure_of(const RangeSplit& split, uint64_t index, std::exception_ptr caught) {
    ErrorCode code = ErrorCode::range_failed;
    std::string why;
    try {
        std::rethrow_exception(caught);
    } catch (const Error& e) {
        code = e.code() == ErrorCode::no_space ? ErrorCode::no_space : ErrorCode::range_failed;
        why = e.what();
    } catch (const std::bad_alloc&) {
        code = ErrorCode::out_of_memory;
        why = "the kernel ran out of memory (worker memory limit)";
    } catch (const std::exception& e) {
        why = e.what();
    }
    why.resize(std::min<size_t>(why.size(), ctl::kMessageBytes - 1));
    return RangeFailure{index, JobError{code, split.describe(index) + ": " + why}};
}

// One rank's work as bytes: a fixed head, the partials, the failure's message.
struct WireHead {
    uint64_t ranges_run, n_partials, fail_index;  // fail_index: UINT64_MAX when none failed
    int32_t fail_code;
    uint32_t message_bytes;
};
struct WirePartial {
    uint64_t index;
    Partial partial;
};
static_assert(std::is_trivially_copyable_v<WirePartial>, "partials cross ranks as bytes");

std::string pack(const RankWork& w) {
    WireHead head{w.ranges_run, w.partials.size(), w.failure ? w.failure->index : UINT64_MAX,
                  w.failure ? static_cast<int32_t>(w.failure->error.code) : 0,
                  w.failure ? static_cast<uint32_t>(w.failure->error.message.size()) : 0u};
    std::string out(reinterpret_cast<const char*>(&head), sizeof head);
    for (const auto& [index, partial] : w.partials) {
        WirePartial p{index, partial};
        out.append(reinterpret_cast<const char*>(&p), sizeof p);
    }
    if (w.failure) out += w.failure->error.message;
    return out;
}

// Adds one rank's packed work (at `at`) to `o`; returns the bytes it took.
size_t unpack_into(const char* at, JobOutcome& o, std::vector<Partial>& partials, std::vector<uint8_t>& seen,
                   std::optional<RangeFailure>& first_failure) {
    WireHead head;
    std::memcpy(&head, at, sizeof head);
    const char* p = at + sizeof head;
    for (uint64_t i = 0; i < head.n_partials; ++i, p += sizeof(WirePartial)) {
        WirePartial wp;
        std::memcpy(&wp, p, sizeof wp);
        if (wp.index >= partials.size() || seen[wp.index]++)
            throw Error(ErrorCode::internal, "range " + std::to_string(wp.index) + " was accounted twice");
        partials[wp.index] = wp.partial;
    }
    o.ranges_done += head.ranges_run;
    o.ranges_by_rank.push_back(head.ranges_run);
    if (head.fail_index != UINT64_MAX && (!first_failure || head.fail_index < first_failure->index))
        first_failure = RangeFailure{head.fail_index, JobError{static_cast<ErrorCode>(head.fail_code),
                                                               std::string(p, head.message_bytes)}};
    return static_cast<size_t>(p - at) + head.message_bytes;
}

// Rank 0: every rank's packed work, one after the other.
std::string gather_bytes(MPI_Comm comm, const std::string& mine) {
    int rank = 0, size = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int n = static_cast<int>(mine.size());
    std::vector<int> counts(rank == 0 ? size : 0), displs(counts.size());
    MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm);
    int total = 0;
    for (size_t r = 0; r < counts.size(); ++r) displs[r] = total, total += counts[r];
    std::string all(static_cast<size_t>(total), '\0');
    MPI_Gatherv(mine.data(), n, MPI_BYTE, all.data(), counts.data(), displs.data(), MPI_BYTE, 0, comm);
    return all;
}

}  // namespace

RankWork run_dealt_ranges(const Kernel& kernel, const RunContext& ctx, const PlannedJob& job, RangeDealer& dealer,
                          OutputSink out) {
    RankWork work;
    std::unique_ptr<KernelRun> run;
    while (auto index = dealer.next()) {
        uint64_t begin = job.split.begin(*index), end = job.split.end(*index);
        try {
            if (!run) run = kernel.start(ctx);
            if (out.rows && out.by_row) out.rows->prepare(begin, end);
            Partial partial = run->reduce(begin, end);
            if (out.file && out.by_row) out.file->write_rows(begin, end, *out.rows);
            if (out.rows && out.by_row) out.rows->release(begin, end);
            work.ranges_run += 1;
            if (job.plan.reduce != ReduceOp::none) work.partials.emplace_back(*index, partial);
        } catch (...) {
            work.failure = failure_of(job.split, *index, std::current_exception());
            dealer.stop();
            break;
        }
    }
    return work;
}

JobOutcome gather_outcome(MPI_Comm comm, const RankWork& work, const PlannedJob& job) {
    idle_barrier(comm);  // ranks done early wait here without spinning
    std::string all = gather_bytes(comm, pack(work));
    JobOutcome o;
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    if (rank != 0) return o;
    bool reducing = job.plan.reduce != ReduceOp::none;
    std::vector<Partial> partials(reducing ? job.split.count : 0);
    std::vector<uint8_t> seen(partials.size());
    std::optional<RangeFailure> failure;
    for (size_t at = 0; at < all.size();) at += unpack_into(all.data() + at, o, partials, seen, failure);
    if (failure) o.error = failure->error;
    else if (o.ranges_done != job.split.count)
        o.error = JobError{ErrorCode::internal, std::to_string(o.ranges_done) + " of " +
                                                    std::to_string(job.split.count) + " ranges were run"};
    else if (reducing) o.reduced = combine_partials(job.plan.reduce, partials);
    return o;
}

}  // namespace shmpool::mpi
