// shmpool-mpi: runs one shmpool kernel across MPI ranks and nodes (docs/mpi.md). The kernels,
// their plans, the range split and the combining of partials are the daemon's own code.
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <iostream>

#include "client/command.h"
#include "common/protocol.h"
#include "mpi/collective.h"
#include "mpi/mpi_job.h"
#include "mpi/node_inputs.h"
#include "mpi/request.h"
#include "worker/plugin_loader.h"

using namespace shmpool;
using namespace shmpool::mpi;

namespace {

constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2;
constexpr uint64_t kMaxRanges = 1ull << 24;  // the daemon's default max-ranges
using Clock = std::chrono::steady_clock;

struct Planned {
    const Kernel* kernel;
    std::map<std::string, InputFile> files;
    PlannedJob job;
};

int world_rank() {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

int world_size() {
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

// The same checks, in the same order, as the daemon's job.submit: kernel, roles, inputs, plan.
Planned plan_request(const RunRequest& req) {
    const Kernel& kernel = requested_kernel(req.kernel, false, false);
    std::vector<std::string> roles;
    for (const auto& kv : req.inputs) roles.push_back(kv.first);
    check_input_roles(kernel, roles);
    Planned p{&kernel, {}, {}};
    std::map<std::string, ArrayMeta> metas;
    for (const auto& [role, path] : req.inputs) {
        InputFile file = read_input_header(path);
        metas.emplace(role, ArrayMeta{file.header.dtype, file.header.shape});
        p.files.emplace(role, std::move(file));
    }
    p.job = plan_job(JobRequest{kernel, req.params, metas, req.out.has_value(), req.chunk,
                                static_cast<uint64_t>(world_size()), kMaxRanges});
    return p;
}

nlohmann::json output_info(const RunRequest& req, const Plan& plan) {
    if (!plan.output || !req.out) return nullptr;
    nlohmann::json shape = nlohmann::json::array();
    for (int i = 0; i < plan.output->shape.ndim; ++i) shape.push_back(plan.output->shape.dims[i]);
    return {{"name", *req.out},
            {"dtype", dtype_name(plan.output->dtype)},
            {"shape", shape},
            {"bytes", checked_bytes(plan.output->shape, plan.output->dtype)}};
}

std::string one_line(std::string text) {
    for (char& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    return text;
}

// A failed request or job, as the CLI shows the daemon's: stderr, or the reply with --json.
int print_failure(const RunRequest& req, const JobError& e, const nlohmann::json* job) {
    if (req.json) {
        nlohmann::json reply = reply_error(nullptr, e.code, e.message);
        if (job) reply["error"]["job"] = *job;
        std::cout << reply.dump() << std::endl;
    }
    std::cerr << "shmpool-mpi: " << error_code_name(e.code) << ": " << one_line(e.message) << std::endl;
    return kExitFailed;
}

int print_done(const RunRequest& req, const nlohmann::json& job) {
    if (req.json) {
        std::cout << reply_ok(nullptr, job).dump() << std::endl;
        return kExitOk;
    }
    std::cout << job["kernel"].get<std::string>() << ": done, " << job["ranges"] << " ranges on " << job["ranks"]
              << " ranks (" << job["nodes"] << " nodes) in " << job["run_s"] << " s";
    if (job.contains("value")) std::cout << "; " << job["reduce"].get<std::string>() << " " << job["value"];
    if (job.contains("index")) std::cout << " at " << job["index"];
    if (!job["output"].is_null()) std::cout << "; wrote " << job["output"]["name"].get<std::string>();
    std::cout << std::endl;
    return kExitOk;
}

// Every rank runs it; the lowest rank that failed a step reports, and all return its status.
class Run {
public:
    Run(const RunRequest& req, Planned planned) : req_(req), p_(std::move(planned)), rank_(world_rank()) {
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_);
        nodes_ = count_nodes();
    }
    ~Run() { MPI_Comm_free(&node_); }

    int go() {
        auto t0 = Clock::now();
        NodeInputs inputs(node_, p_.files);
        std::optional<OutputRows> rows;
        std::optional<OutputFile> file;
        // Each step is collective and agreed on before the next, so no rank enters a collective
        // call that another rank, having failed, skips.
        if (auto rc = failed_anywhere([&] { inputs.load(); })) return *rc;
        if (auto rc = failed_anywhere([&] { reserve_rows(rows); })) return *rc;
        if (auto rc = failed_anywhere([&] { open_file(file); })) return *rc;
        auto t1 = Clock::now();
        RunContext ctx{req_.params, inputs.views(), rows ? rows->view() : ArrayView{}};
        JobOutcome outcome = run_ranges(ctx, rows ? &*rows : nullptr, file ? &*file : nullptr);
        auto t2 = Clock::now();
        if (rank_ != 0) return kExitOk;
        return report(outcome, std::chrono::duration<double>(t1 - t0).count(),
                      std::chrono::duration<double>(t2 - t1).count());
    }

private:
    // Runs `step` on this rank; when it threw on any rank, the exit status to leave with (the
    // lowest failed rank prints its error).
    std::optional<int> failed_anywhere(const std::function<void()>& step) const {
        std::optional<JobError> failed;
        try {
            step();
        } catch (const Error& e) {
            failed = JobError{e.code(), e.what()};
        }
        int bad = first_failed_rank(MPI_COMM_WORLD, !failed);
        if (bad < 0) return std::nullopt;
        return rank_ == bad ? print_failure(req_, *failed, nullptr) : kExitFailed;
    }

    void reserve_rows(std::optional<OutputRows>& rows) const {
        if (p_.job.plan.output) rows.emplace(*p_.job.plan.output);
    }

    void open_file(std::optional<OutputFile>& file) const {
        if (!p_.job.plan.output || !req_.out) return;
        long pid = getpid();
        MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
        file.emplace(MPI_COMM_WORLD, partial_output_path(*req_.out, pid), *p_.job.plan.output);
    }

    JobOutcome run_ranges(const RunContext& ctx, OutputRows* rows, OutputFile* file) {
        JobOutcome outcome;
        {
            RangeDealer dealer(MPI_COMM_WORLD, p_.job.split.count);
            RankWork work = run_dealt_ranges(*p_.kernel, ctx, p_.job, dealer, OutputSink{rows, file, by_row()});
            outcome = gather_outcome(MPI_COMM_WORLD, work, p_.job);
        }
        int complete = rank_ == 0 && !outcome.error;
        MPI_Bcast(&complete, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (!file) return outcome;
        std::optional<std::string> file_error;
        if (complete && !by_row()) file_error = file->write_merged(*rows);
        if (file_error) complete = false;
        std::optional<std::string> close_error = file->finish(complete, *req_.out);
        if (!file_error) file_error = close_error;
        if (file_error && !outcome.error) outcome.error = JobError{ErrorCode::io_error, *file_error};
        return outcome;
    }

    bool by_row() const { return p_.job.plan.output && p_.job.plan.rows == p_.job.plan.output->shape.rows(); }

    // Collective: how many nodes the ranks are on (rank 0 learns it).
    int count_nodes() const {
        int node_rank = 0, leaders = 0;
        MPI_Comm_rank(node_, &node_rank);
        int leader = node_rank == 0;
        MPI_Reduce(&leader, &leaders, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
        return leaders;
    }

    int report(const JobOutcome& o, double load_s, double run_s) const {
        bool done = !o.error;
        nlohmann::json job = job_reply_json(JobReport{
            .kernel = p_.kernel->name(),
            .state = done ? "done" : "failed",
            .rows = p_.job.split.rows,
            .chunk = p_.job.split.chunk,
            .ranges = p_.job.split.count,
            .ranges_done = o.ranges_done,
            .queued_s = load_s,
            .run_s = run_s,
            .output = done ? output_info(req_, p_.job.plan) : nullptr,
            .reduce = p_.job.plan.reduce,
            .reduced = o.reduced,
            .error = o.error,
        });
        job["ranks"] = world_size();
        job["nodes"] = nodes_;
        job["ranges_by_rank"] = o.ranges_by_rank;
        return done ? print_done(req_, job) : print_failure(req_, *o.error, &job);
    }

    const RunRequest& req_;
    Planned p_;
    int rank_;
    int nodes_ = 0;
    MPI_Comm node_ = MPI_COMM_NULL;
};

int run(int argc, char** argv) {
    bool help = false;
    RunRequest req;
    try {
        req = parse_run_request(argc, argv, &help);
    } catch (const cli::UsageError& e) {
        if (world_rank() == 0) std::cerr << "shmpool-mpi: " << e.what() << " (see 'shmpool-mpi --help')\n";
        return kExitUsage;
    }
    if (help) {
        if (world_rank() == 0) std::cout << kUsage;
        return kExitOk;
    }
    if (req.kernel_dir) {
        PluginLoadReport loaded = load_plugins(*req.kernel_dir);
        if (world_rank() == 0)
            for (const auto& line : loaded.refused) std::cerr << "shmpool-mpi: " << line << "\n";
    }
    std::optional<Planned> planned;
    JobError error{ErrorCode::internal, ""};
    try {
        planned = plan_request(req);
    } catch (const Error& e) {
        error = JobError{e.code(), e.what()};
    }
    if (int bad = first_failed_rank(MPI_COMM_WORLD, planned.has_value()); bad >= 0)
        return world_rank() == bad ? print_failure(req, error, nullptr) : kExitFailed;
    return Run(req, std::move(*planned)).go();
}

}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rc = run(argc, argv);
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return worst;
}
