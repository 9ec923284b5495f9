// Turns jobs into ranges and ranges into completions: plans and validates submitted jobs,
// hands ranges to the workers' rings, accounts each range once, requeues a dead worker's.
#include "server/jobs/scheduler.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/futex.h"
#include "common/log.h"

namespace shmpool {
namespace {

std::string range_text(const Job& job, uint64_t index) { return job.split().describe(index); }

void count_end(SchedulerMetrics& m, const Job& job) {
    switch (job.state) {
        case JobState::done: m.jobs_done += 1; break;
        case JobState::failed: m.jobs_failed += 1; break;
        case JobState::cancelled: m.jobs_cancelled += 1; break;
        case JobState::timed_out: m.jobs_timed_out += 1; break;
        default: return;
    }
    m.job_latency_s.observe(std::chrono::duration<double>(job.ended - job.submitted).count());
}


void copy_name(char* dst, size_t cap, const std::string& src) {
    std::memset(dst, 0, cap);
    std::memcpy(dst, src.data(), std::min(cap - 1, src.size()));
}

}  // namespace

Scheduler::Scheduler(ctl::Header* control, uint32_t n_workers, DatasetStore& store, SchedulerLimits limits)
    : control_(control), store_(store), limits_(limits), slots_(n_workers) {
    for (uint32_t s = ctl::kMaxJobSlots; s-- > 0;) free_job_slots_.push_back(s);
}

// ---- submission -----------------------------------------------------------------------

std::vector<std::pair<std::string, DatasetPtr>> Scheduler::resolve_inputs(const Kernel& k,
                                                                          const JobSpec& spec) const {
    std::vector<std::string> given;
    for (const auto& kv : spec.inputs) given.push_back(kv.first);
    std::vector<std::string> roles = check_input_roles(k, given);
    std::vector<std::pair<std::string, DatasetPtr>> inputs;
    for (const auto& role : roles) {
        DatasetPtr ds = store_.find(spec.inputs.at(role), spec.owner_uid);
        if (!ds->sealed && !find_job(ds->producer_job))  // an unsealed job output is waited for
            throw Error(ErrorCode::dataset_busy, "input '" + role + "' (dataset '" + ds->name +
                                                     "') is still being written by job " +
                                                     std::to_string(ds->producer_job));
        inputs.emplace_back(role, ds);
    }
    return inputs;
}

Job& Scheduler::submit(const JobSpec& spec) {
    const Kernel* kernel = &requested_kernel(spec.kernel, spec.internal, limits_.test_kernels);
    auto inputs = resolve_inputs(*kernel, spec);
    std::map<std::string, ArrayMeta> metas;
    for (const auto& [role, ds] : inputs) metas.emplace(role, ds->meta);
    PlannedJob planned = plan_job(JobRequest{*kernel, spec.params, metas, spec.output.has_value(), spec.chunk,
                                             slots_.size(), limits_.max_ranges});
    const Plan& plan = planned.plan;
    uint64_t chunk = planned.split.chunk;
    uint64_t n_ranges = planned.split.count;

    auto job = std::make_unique<Job>();
    job->id = next_job_id_++;
    job->results.bind(instance_, job->id);
    if (plan.output) {
        uint64_t bytes = checked_bytes(plan.output->shape, plan.output->dtype);
        if (limits_.max_output_bytes != 0 && bytes > limits_.max_output_bytes)
            throw Error(ErrorCode::output_too_large, "the output " + plan.output->shape.to_string() + " would need " +
                                                         std::to_string(bytes) + " bytes, over max-output-bytes " +
                                                         std::to_string(limits_.max_output_bytes));
        if (bytes > limits_.max_dataset_bytes)
            throw Error(ErrorCode::too_large, "the output " + plan.output->shape.to_string() + " would need " +
                                                  std::to_string(bytes) + " bytes, over the per-dataset limit of " +
                                                  std::to_string(limits_.max_dataset_bytes));
        job->output = store_.create(spec.output.value_or("job" + std::to_string(job->id) + ".out"), *plan.output,
                                    spec.owner_uid);
        job->output->producer_job = job->id;
    }
    job->kernel = kernel;
    job->params = spec.params;
    job->timeout_s = spec.timeout_s;
    job->owner_session = spec.owner_session;
    job->owner_uid = spec.owner_uid;
    job->inputs = std::move(inputs);
    job->rows = plan.rows;
    job->chunk = chunk;
    job->n_ranges = n_ranges;
    job->range_done.assign(n_ranges, 0);
    job->reduce = plan.reduce;
    if (plan.reduce != ReduceOp::none) job->partials.assign(n_ranges, Partial{});
    Job& ref = *job;
    ref.state = inputs_sealed(ref) ? JobState::queued : JobState::waiting;
    jobs_.emplace(ref.id, std::move(job));
    index_.add(ref);
    metrics_.jobs_submitted += 1;
    if (ref.state == JobState::queued)
        queued_.push_back(ref.id);
    else
        wait_for_producers(ref);
    pump();
    return ref;
}

Job& Scheduler::get(uint64_t id) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) throw Error(ErrorCode::unknown_job, "no job " + std::to_string(id));
    return *it->second;
}

void Scheduler::cancel(Job& job, ErrorCode code, const std::string& why, JobState state) {
    if (job.ended_state()) return;
    finish(job, state, JobError{code, why});
    pump();
}

void Scheduler::cancel_jobs_of_session(uint64_t session_id) {
    for (uint64_t id : index_.unended_of_session(session_id)) {
        Job* job = find_job(id);
        if (job && !job->ended_state())
            finish(*job, JobState::cancelled, JobError{ErrorCode::cancelled, "the waiting client disconnected"});
    }
    pump();
}

std::vector<uint32_t> Scheduler::slots_running(uint64_t job_id) const {
    std::vector<uint32_t> out;
    for (uint32_t s = 0; s < slots_.size(); ++s)
        if (slots_[s].alive && control_->workers()[s].running_job.load(std::memory_order_acquire) == job_id)
            out.push_back(s);
    return out;
}

void Scheduler::cancel_all(ErrorCode code, const std::string& why) {
    std::vector<Job*> unended;
    for (const auto& kv : index_.unended()) unended.push_back(kv.second);
    for (Job* job : unended)
        if (!job->ended_state()) finish(*job, JobState::cancelled, JobError{code, why});
}

void Scheduler::when_ended(Job& job, std::function<void(const Job&)> fn) {
    if (job.ended_state())
        fn(job);
    else
        job.waiters.push_back(std::move(fn));
}

// ---- jobs that wait for other jobs' outputs --------------------------------------------

bool Scheduler::inputs_sealed(const Job& job) const {
    return std::all_of(job.inputs.begin(), job.inputs.end(), [](const auto& in) { return in.second->sealed; });
}

// The error a waiting job fails with when the job producing one of its inputs ended without
// sealing it (failed, cancelled, timed out); nullopt while every producer still runs.
std::optional<JobError> Scheduler::failed_input(const Job& job) const {
    for (const auto& [role, ds] : job.inputs) {
        if (ds->sealed) continue;
        const Job* producer = find_job(ds->producer_job);
        if (producer && !producer->ended_state()) continue;
        std::string how = producer ? "ended " + std::string(job_state_name(producer->state)) +
                                         (producer->error ? ": " + producer->error->message : "")
                                   : "ended without writing it";
        return JobError{ErrorCode::dependency_failed, "input '" + role + "' (dataset '" + ds->name +
                                                          "') was to be written by job " +
                                                          std::to_string(ds->producer_job) + ", which " + how};
    }
    return std::nullopt;
}

void Scheduler::wait_for_producers(const Job& job) {
    for (const auto& [role, ds] : job.inputs)
        if (!ds->sealed) waiting_on_.emplace(ds->producer_job, job.id);
}

// Waiting jobs whose producer ended since the last pump: those whose inputs are now all sealed
// become queued; those whose producer failed fail too, which queues the jobs waiting on them
// in turn (a failure runs down a chain); the others still wait for another producer.
void Scheduler::release_jobs_awaiting_inputs() {
    while (!recheck_.empty()) {
        Job* job = find_job(recheck_.front());
        recheck_.pop_front();
        if (!job || job->state != JobState::waiting) continue;  // cancelled, timed out, or released
        if (inputs_sealed(*job)) {
            index_.set_state(*job, JobState::queued);
            queued_.push_back(job->id);
        } else if (auto error = failed_input(*job)) {
            finish(*job, JobState::failed, std::move(error));
        }
    }
}

// ---- dispatch -------------------------------------------------------------------------

void Scheduler::start_queued_jobs() {
    while (!queued_.empty() && !free_job_slots_.empty()) {
        auto it = jobs_.find(queued_.front());
        queued_.pop_front();
        if (it == jobs_.end() || it->second->ended_state()) continue;  // cancelled while it waited
        Job& job = *it->second;
        job.slot = static_cast<int>(free_job_slots_.back());
        free_job_slots_.pop_back();
        publish(job);
        index_.set_state(job, JobState::running);
        job.started = Job::Clock::now();
        active_.insert(job.id);
    }
}

void Scheduler::publish(Job& job) {
    ctl::JobDesc& d = control_->jobs[job.slot];
    d.generation += 1;
    d.cancelled.store(0, std::memory_order_relaxed);
    d.job_id = job.id;
    d.rows = job.rows;
    copy_name(d.kernel, sizeof d.kernel, job.kernel->name());
    d.n_inputs = static_cast<uint32_t>(job.inputs.size());
    for (size_t i = 0; i < job.inputs.size(); ++i) {
        copy_name(d.roles[i], ctl::kRoleBytes, job.inputs[i].first);
        d.inputs[i] = job.inputs[i].second->ref();
    }
    d.output = job.output ? job.output->ref() : ctl::DatasetRef{};
    std::string params = job.params.dump();
    d.params_len = static_cast<uint32_t>(params.size());
    std::memcpy(d.params, params.data(), params.size());
}

Job* Scheduler::next_job_with_work() {
    while (!active_.empty()) {
        Job& job = get(*active_.begin());
        if (!job.ended_state() && job.has_work()) return &job;
        active_.erase(active_.begin());
    }
    return nullptr;
}

// Ranges kept queued per worker: enough to hide the daemon's round trip for tiny ranges,
// few enough that the last ranges of a job still balance across workers.
uint32_t Scheduler::depth_for(const Job& job) const {
    if (job.avg_range_ns == 0) return 2;
    if (job.avg_range_ns < 20e3) return 32;
    if (job.avg_range_ns < 200e3) return 8;
    return 2;
}

void Scheduler::pump() {
    prune_finished();  // here, never inside account/finish, which still hold a Job&
    release_jobs_awaiting_inputs();
    start_queued_jobs();
    std::vector<bool> touched(slots_.size(), false);
    while (Job* job = next_job_with_work()) {
        std::optional<uint32_t> slot = least_loaded_slot(depth_for(*job));
        if (!slot) break;
        dispatch_one(*slot, *job);
        touched[*slot] = true;
    }
    for (uint32_t s = 0; s < slots_.size(); ++s)
        if (touched[s]) ring_doorbell(s);
}

// The live worker with the fewest ranges queued, below `depth` (lowest slot on a tie): an idle
// worker takes a range before a busy one queues a second behind its current one, so single
// long ranges submitted one after another (a joblib batch each) spread across the pool.
std::optional<uint32_t> Scheduler::least_loaded_slot(uint32_t depth) const {
    std::optional<uint32_t> best;
    for (uint32_t s = 0; s < slots_.size(); ++s) {
        const SlotState& st = slots_[s];
        if (!st.alive || st.retiring || st.in_flight.size() >= depth) continue;
        if (!best || st.in_flight.size() < slots_[*best].in_flight.size()) best = s;
    }
    return best;
}

void Scheduler::dispatch_one(uint32_t slot, Job& job) {
    uint64_t index;
    if (!job.requeued.empty()) {
        index = job.requeued.front();
        job.requeued.pop_front();
    } else {
        index = job.next_range++;
    }
    auto deaths = job.deaths.find(index);
    ctl::RangeMsg msg{};
    msg.job_slot = static_cast<uint32_t>(job.slot);
    msg.generation = control_->jobs[job.slot].generation;
    msg.index = index;
    msg.begin = job.range_begin(index);
    msg.end = job.range_end(index);
    msg.attempt = 1 + (deaths == job.deaths.end() ? 0 : deaths->second);
    msg.tag = next_tag_++;
    if (!control_->workers()[slot].todo.push(msg)) throw Error(ErrorCode::internal, "worker ring overflow");
    slots_[slot].in_flight.push_back({job.id, index, msg.tag});
    job.in_flight += 1;
}

void Scheduler::ring_doorbell(uint32_t slot) {
    ctl::WorkerSlot& w = control_->workers()[slot];
    w.doorbell.fetch_add(1, std::memory_order_seq_cst);
    if (w.sleeping.load(std::memory_order_seq_cst)) futex_wake_all(w.doorbell);
}

// ---- completions ----------------------------------------------------------------------

void Scheduler::drain_completions() {
    for (uint32_t s = 0; s < slots_.size(); ++s) drain_slot(s);
    pump();
}

void Scheduler::drain_slot(uint32_t slot) {
    ctl::DoneMsg msg;
    while (control_->workers()[slot].done.pop(msg)) account(slot, msg);
}

// A completion must be for the range at the head of the slot's in-flight list (workers run
// their ring in order). Anything else breaks the worker protocol: it is counted if it repeats
// a range already accounted, logged otherwise, and never credited to another range.
bool Scheduler::matches_head(uint32_t slot, const ctl::DoneMsg& msg) {
    SlotState& st = slots_[slot];
    if (!st.in_flight.empty()) {
        const InFlight& f = st.in_flight.front();
        const Job* job = find_job(f.job_id);
        if (f.index == msg.index && job && job->slot == static_cast<int>(msg.job_slot) &&
            control_->jobs[msg.job_slot].generation == msg.generation)
            return true;
    }
    const ctl::JobDesc& d = control_->jobs[msg.job_slot % ctl::kMaxJobSlots];
    Job* job = d.generation == msg.generation ? find_job(d.job_id) : nullptr;
    if (job && !job->range_done.empty() && msg.index < job->n_ranges && job->range_done[msg.index]) {
        job->duplicates += 1;
        metrics_.duplicate_completions += 1;
        return false;
    }
    log_error("internal: worker slot " + std::to_string(slot) + " reported range " + std::to_string(msg.index) +
              " it was not running; ignored");
    return false;
}

Job* Scheduler::find_job(uint64_t id) const {
    auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : it->second.get();
}

void Scheduler::account(uint32_t slot, const ctl::DoneMsg& msg) {
    SlotState& st = slots_[slot];
    if (!matches_head(slot, msg)) return;
    InFlight f = st.in_flight.front();
    st.in_flight.pop_front();
    st.ranges_done += 1;
    st.ranges_since_start += 1;
    metrics_.ranges_run += 1;
    Job& job = get(f.job_id);
    job.in_flight -= 1;
    if (job.ended_state() && msg.result_bytes > 0) discard_unless_kept(job, f.index, f.tag);  // too late to count
    if (!job.ended_state()) {
        if (msg.status == ctl::RangeStatus::ok) {
            account_ok(job, msg, f.tag);
        } else if (msg.status != ctl::RangeStatus::skipped) {
            std::string why(msg.message, strnlen(msg.message, sizeof msg.message));
            ErrorCode code = msg.status == ctl::RangeStatus::out_of_memory  ? ErrorCode::out_of_memory
                             : msg.status == ctl::RangeStatus::no_space     ? ErrorCode::no_space
                             : msg.status == ctl::RangeStatus::python_error ? ErrorCode::python_error
                                                                             : ErrorCode::range_failed;
            finish(job, JobState::failed, JobError{code, range_text(job, f.index) + ": " + why});
        }
    }
    release_slot_if_idle(job);
    retire_if_due(slot);
}

void Scheduler::retire_if_due(uint32_t slot) {
    SlotState& st = slots_[slot];
    if (max_ranges_per_worker_ == 0 || !st.alive || st.ranges_since_start < max_ranges_per_worker_) return;
    st.retiring = true;
    if (st.in_flight.empty() && recycle_) {
        st.alive = false;
        recycle_(slot);
    }
}

// Removes the result object of dispatch `tag` of range `index`, unless it is the one kept for
// the range (a completion repeated for the same dispatch must not remove its own result).
void Scheduler::discard_unless_kept(Job& job, uint64_t index, uint32_t tag) {
    const ResultObjects::Entry* kept = job.results.find(index);
    if (!kept || kept->tag != tag) job.results.discard(tag);
}

// Keeps range `index`'s result object, charged to the job owner's quotas; one that would
// exceed them is removed and fails the job with the quota's code (uid_bytes_limit, no_space).
bool Scheduler::keep_result(Job& job, uint64_t index, uint32_t tag, uint64_t bytes) {
    std::shared_ptr<void> charge;
    try {
        charge = store_.charge_result(job.owner_uid, bytes, "the result of " + range_text(job, index));
    } catch (const Error& e) {
        job.results.discard(tag);
        finish(job, JobState::failed, JobError{e.code(), e.what()});
        return false;
    }
    job.results.keep(index, tag, bytes, std::move(charge));
    return true;
}

void Scheduler::account_ok(Job& job, const ctl::DoneMsg& msg, uint32_t tag) {
    if (job.range_done[msg.index]) {
        job.duplicates += 1;
        metrics_.duplicate_completions += 1;
        if (msg.result_bytes > 0) discard_unless_kept(job, msg.index, tag);
        return;
    }
    if (msg.result_bytes > 0 && !keep_result(job, msg.index, tag, msg.result_bytes)) return;
    job.range_done[msg.index] = 1;
    job.ranges_done += 1;
    if (job.reduce != ReduceOp::none) job.partials[msg.index] = msg.partial;
    double ns = static_cast<double>(msg.elapsed_ns);
    job.avg_range_ns = job.avg_range_ns == 0 ? ns : 0.8 * job.avg_range_ns + 0.2 * ns;
    if (job.ranges_done == job.n_ranges) finish(job, JobState::done);
}

// ---- workers coming and going ---------------------------------------------------------

void Scheduler::worker_up(uint32_t slot) {
    slots_[slot].alive = true;
    slots_[slot].retiring = false;
    slots_[slot].ranges_since_start = 0;
    pump();
}

void Scheduler::worker_down(uint32_t slot, const std::string& how, bool crashed) {
    worker_deaths_ += crashed;
    drain_slot(slot);  // what it finished before dying still counts, once
    ctl::WorkerSlot& w = control_->workers()[slot];
    uint64_t running_job = w.running_job.load(std::memory_order_acquire);
    uint64_t running_index = w.running_index.load(std::memory_order_relaxed);
    SlotState& st = slots_[slot];
    st.alive = false;
    std::deque<InFlight> held;
    held.swap(st.in_flight);
    for (const InFlight& f : held) {
        Job& job = get(f.job_id);
        job.in_flight -= 1;
        bool was_running = running_job == f.job_id && running_index == f.index;
        bool accounted = !job.ended_state() && job.range_done[f.index];
        if (job.kernel->runs_client_code() && !accounted) job.results.discard(f.tag);  // a half-written result
        if (!job.ended_state() && !job.range_done[f.index]) requeue_after_death(job, f.index, was_running, how);
        release_slot_if_idle(job);
    }
    w.reset();
    pump();
}

void Scheduler::requeue_after_death(Job& job, uint64_t index, bool was_running, const std::string& how) {
    if (was_running && ++job.deaths[index] >= limits_.max_attempts) {
        finish(job, JobState::failed,
               JobError{ErrorCode::range_failed, range_text(job, index) + " failed " +
                                                     std::to_string(job.deaths[index]) + " attempts: its worker " +
                                                     how + " each time"});
        return;
    }
    job.requeued.push_back(index);
    job.ranges_requeued += 1;
    metrics_.ranges_requeued += 1;
    active_.insert(job.id);
}

// ---- ending ---------------------------------------------------------------------------

void Scheduler::finish(Job& job, JobState state, std::optional<JobError> error) {
    index_.set_state(job, state);
    job.error = std::move(error);
    job.ended = Job::Clock::now();
    count_end(metrics_, job);
    auto waiters_on_output = waiting_on_.equal_range(job.id);
    for (auto it = waiters_on_output.first; it != waiters_on_output.second; ++it) recheck_.push_back(it->second);
    waiting_on_.erase(waiters_on_output.first, waiters_on_output.second);
    active_.erase(job.id);
    if (job.slot >= 0 && state != JobState::done)
        control_->jobs[job.slot].cancelled.store(1, std::memory_order_release);
    if (state == JobState::done && job.reduce != ReduceOp::none) job.reduced = combine_partials(job.reduce, job.partials);
    job.partials = {};
    if (state != JobState::done) job.results.drop_all();
    if (job.output) {
        if (state == JobState::done) {
            store_.seal(*job.output);
            job.output_info = job.output->describe();
        } else {
            store_.erase(job.output->owner_uid, job.output->name, /*force=*/true);
        }
        job.output.reset();  // a finished job must not keep a deleted dataset's segment alive
    }
    job.inputs.clear();
    job.range_done = {};
    job.requeued.clear();
    log_info("job " + std::to_string(job.id) + " (" + job.kernel->name() + ") " +
             std::string(job_state_name(state)) + (job.error ? ": " + job.error->message : ""));
    auto waiters = std::move(job.waiters);
    for (auto& w : waiters) w(job);
    if (end_hook_) end_hook_(job);
    finished_.push_back(job.id);
    release_slot_if_idle(job);
}

void Scheduler::release_slot_if_idle(Job& job) {
    if (job.slot < 0 || job.in_flight > 0 || !job.ended_state()) return;
    // No worker holds a range of it now. A new generation tells the workers to drop what they
    // keep for the job (its kernel's state, pinned mappings, a client object it copied from)
    // when they next go idle, instead of when the slot serves another job.
    control_->jobs[job.slot].generation += 1;
    free_job_slots_.push_back(static_cast<uint32_t>(job.slot));
    job.slot = -1;
}

void Scheduler::prune_finished() {
    while (finished_.size() > limits_.finished_jobs_kept) {
        auto it = jobs_.find(finished_.front());
        if (it != jobs_.end() && it->second->slot >= 0) break;  // still has ranges in flight
        if (it != jobs_.end()) {
            index_.forget(*it->second);
            jobs_.erase(it);
        }
        finished_.pop_front();
    }
}

// ---- views ----------------------------------------------------------------------------

// The worker's current range is one of those the scheduler handed it and has not accounted:
// the one the worker marked as running in its slot. Job and bounds come from the scheduler's
// own record, so a stale or torn mark never shows a range the worker does not hold.
nlohmann::json Scheduler::worker_activity(uint32_t slot) const {
    const SlotState& st = slots_[slot];
    const ctl::WorkerSlot& w = control_->workers()[slot];
    uint64_t running_job = w.running_job.load(std::memory_order_acquire);
    uint64_t running_index = w.running_index.load(std::memory_order_relaxed);
    nlohmann::json j = {{"ranges_done", st.ranges_done}, {"queued", st.in_flight.size()}, {"job", nullptr},
                        {"range", nullptr}};
    for (const InFlight& f : st.in_flight) {
        const Job* job = f.job_id == running_job && f.index == running_index ? find_job(f.job_id) : nullptr;
        if (!job) continue;
        j["job"] = job->id;
        j["range"] = {job->range_begin(f.index), job->range_end(f.index)};
        break;
    }
    return j;
}

nlohmann::json Scheduler::stats() const {
    return {{"jobs_running", index_.count(JobState::running)},
            {"jobs_queued", index_.count(JobState::queued)},
            {"jobs_waiting", index_.count(JobState::waiting)},
            {"jobs_total", next_job_id_ - 1},
            {"ranges_done", metrics_.ranges_run},
            {"worker_deaths", worker_deaths_}};
}

}  // namespace shmpool
