// Handlers of the job verbs: submit, status, wait, cancel. A waiting request is answered from
// the job's end callback; the loop never blocks on it.
#include <cmath>

#include "server/daemon.h"
#include "server/api/dataset_lookup.h"
#include "server/api/progress_feed.h"
#include "server/api/router.h"

namespace shmpool {
namespace {

constexpr double kMaxTimeoutSeconds = 365.0 * 24 * 3600;  // a year: far beyond any job, far from overflow

JobSpec parse_job_spec(const nlohmann::json& a) {
    JobSpec spec;
    spec.kernel = require_string(a, "kernel");
    if (a.contains("inputs") && !a["inputs"].is_null()) {
        for (const auto& [role, name] : require_object(a, "inputs").items()) {
            if (!name.is_string()) throw Error(ErrorCode::bad_request, "input '" + role + "' must name a dataset");
            spec.inputs.emplace(role, name.get<std::string>());
        }
    }
    if (a.contains("params") && !a["params"].is_null()) spec.params = require_object(a, "params");
    spec.chunk = optional_u64(a, "chunk").value_or(0);
    spec.output = optional_string(a, "output");
    if (auto it = a.find("timeout_s"); it != a.end() && !it->is_null()) {
        if (!it->is_number() || !(it->get<double>() > 0) || !(it->get<double>() <= kMaxTimeoutSeconds))
            throw Error(ErrorCode::bad_request, "field 'timeout_s' must be a number of seconds in (0, 31536000]");
        spec.timeout_s = it->get<double>();
    }
    return spec;
}

// With "progress": true, events stream the job's progress to `c` until its answer.
std::shared_ptr<ProgressFeed> progress_feed_for(const Call& c, const Job& job) {
    if (!optional_bool(c.args(), "progress", false)) return nullptr;
    auto feed = std::make_shared<ProgressFeed>(c.daemon->scheduler(), c.session, c.req.id, job.id);
    feed->start();
    return feed;
}

// Answers `c` with the job once it has ended: its description, or its error.
void answer_when_ended(const Call& c, Job& job) {
    c.daemon->scheduler().when_ended(job, [c, feed = progress_feed_for(c, job)](const Job& j) {
        if (feed) feed->finish(j);
        if (j.state == JobState::done) {
            c.ok(j.describe());
            return;
        }
        nlohmann::json reply = reply_error(c.req.id, j.error ? j.error->code : ErrorCode::internal,
                                           j.error ? j.error->message : "job ended without a reason");
        reply["error"]["job"] = j.describe();
        c.session->send(reply);
    });
}

// Inputs the submitter may read, named "<uid>/<name>" for the scheduler; an output in its own
// namespace. A job reads only what its submitter could read, and writes only the submitter's.
void check_job_datasets(const Call& c, JobSpec& spec) {
    for (auto& [role, name] : spec.inputs) name = find_readable(c, name)->qualified_name();
    if (spec.output) spec.output = name_to_create(c, *spec.output);
}

// The job `c` names, which the client must have submitted (or be an admin).
Job& own_job(const Call& c) {
    Job& job = c.daemon->scheduler().get(require_u64(c.args(), "job"));
    c.access().require_job_owner(c.peer(), job.owner_uid, job.id);
    return job;
}

}  // namespace

void handle_job_submit(const Call& c) {
    JobSpec spec = parse_job_spec(c.args());
    bool wait = optional_bool(c.args(), "wait", false);
    bool detach = optional_bool(c.args(), "detach", false);
    if (optional_bool(c.args(), "progress", false) && !wait)
        throw Error(ErrorCode::bad_request, "'progress' streams events until the job ends: it needs 'wait'");
    if (wait && !detach) spec.owner_session = c.session->id();
    spec.owner_uid = c.session->peer_uid();
    check_job_datasets(c, spec);
    if (const Kernel* kernel = find_kernel(spec.kernel); kernel && kernel->runs_client_code())
        c.access().require_may_run_code(c.peer());
    Job& job = c.daemon->scheduler().submit(spec);
    c.daemon->timers().arm_timeout(job);
    if (wait)
        answer_when_ended(c, job);
    else
        c.ok(job.describe());
}

void handle_job_status(const Call& c) { c.ok(own_job(c).describe()); }

void handle_job_wait(const Call& c) { answer_when_ended(c, own_job(c)); }

void handle_job_cancel(const Call& c) {
    Job& job = own_job(c);
    c.daemon->scheduler().cancel(job, ErrorCode::cancelled, "job " + std::to_string(job.id) + " was cancelled");
    c.ok(job.describe());
}

// One range's result object (what a Python job's function returned), passed as a read-only
// descriptor: the client maps it even when it may not open the 0600 object by name.
void handle_job_result(const Call& c) {
    require_fd_room(c);
    Job& job = own_job(c);
    uint64_t range = require_u64(c.args(), "range");
    const ResultObjects::Entry* entry = job.results.find(range);
    if (!entry)
        throw Error(ErrorCode::bad_request, "job " + std::to_string(job.id) + " keeps no result of range " +
                                                std::to_string(range) + " (none returned, or dropped)");
    nlohmann::json info = {{"job", job.id}, {"range", range}, {"bytes", entry->bytes}};
    c.ok_with_fd(info, UniqueFd(Segment::open_read_only(job.results.name_of(*entry))));
}

// Removes a job's result objects (the client has read them).
void handle_job_drop_results(const Call& c) {
    Job& job = own_job(c);
    job.results.drop_all();
    c.ok(job.describe());
}

}  // namespace shmpool
