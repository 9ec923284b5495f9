// Dispatches a request line to its verb's handler through a table (no switch). Every error a
// handler throws becomes that request's error reply; the connection and daemon carry on.
#include "server/api/router.h"

#include <unordered_map>

#include "common/log.h"
#include "server/daemon.h"

namespace shmpool {
namespace {

// Who may call a verb at all; what it may touch (whose datasets and jobs) the handler asks
// the access policy (server/api/access_policy.h) with the same peer.
enum class Caller { anyone, admin };

struct Verb {
    Handler handler;
    bool while_stopping;  // still served while the daemon drains (read-only verbs)
    Caller caller = Caller::anyone;
};

const std::unordered_map<std::string_view, Verb>& verbs() {
    static const std::unordered_map<std::string_view, Verb> table = {
        {"ping", {handle_ping, true}},
        {"workers", {handle_workers, true}},
        {"stats", {handle_stats, true}},
        {"kernels", {handle_kernels, true}},
        {"shutdown", {handle_shutdown, true, Caller::admin}},
        {"dataset.put", {handle_dataset_put, false}},
        {"dataset.info", {handle_dataset_info, true}},
        {"dataset.list", {handle_dataset_list, true}},
        {"dataset.delete", {handle_dataset_delete, false}},
        {"dataset.save", {handle_dataset_save, false}},
        {"dataset.get", {handle_dataset_get, true}},
        {"dataset.open", {handle_dataset_open, true}},
        {"dataset.share", {handle_dataset_share, false}},
        {"dataset.unshare", {handle_dataset_unshare, true}},
        {"job.submit", {handle_job_submit, false}},
        {"job.status", {handle_job_status, true}},
        {"job.wait", {handle_job_wait, true}},
        {"job.cancel", {handle_job_cancel, true}},
        {"job.result", {handle_job_result, true}},
        {"job.drop_results", {handle_job_drop_results, true}},
    };
    return table;
}

}  // namespace

const AccessPolicy& Call::access() const { return daemon->access(); }

// The per-connection cap on unanswered requests (docs/security.md); the connection stays usable.
void Router::check_requests_open(const Session& session) const {
    uint32_t cap = daemon_.options().max_requests_per_connection;
    if (cap != 0 && session.requests_open() >= cap)
        throw Error(ErrorCode::too_many_requests, "this connection already has " + std::to_string(cap) +
                                                      " requests not yet answered (max-requests-per-connection)");
}

void Router::on_line(const std::shared_ptr<Session>& session, std::string_view line) {
    nlohmann::json id;
    try {
        Call call{&daemon_, session, parse_request(line, &id), nullptr};
        auto it = verbs().find(call.req.verb);
        if (it == verbs().end()) throw Error(ErrorCode::unknown_verb, "no verb '" + call.req.verb + "'");
        if (it->second.caller == Caller::admin) daemon_.access().require_admin(session->peer(), call.req.verb);
        if (daemon_.shutting_down() && !it->second.while_stopping)
            throw Error(ErrorCode::shutting_down, "the daemon is stopping and takes no new work");
        check_requests_open(*session);
        call.open_token = session->open_request();
        it->second.handler(call);
    } catch (const Error& e) {
        session->send(reply_error(id, e.code(), e.what()));
    } catch (const nlohmann::json::exception& e) {
        session->send(reply_error(id, ErrorCode::bad_request, e.what()));
    } catch (const std::exception& e) {
        log_error(std::string("internal error while handling a request: ") + e.what());
        session->send(reply_error(id, ErrorCode::internal, e.what()));
    }
}

void Router::on_line_too_long(const std::shared_ptr<Session>& session) {
    session->send(reply_error(nullptr, ErrorCode::line_too_long,
                              "request line longer than " + std::to_string(daemon_.options().max_line) +
                                  " bytes; closing the connection"));
}

}  // namespace shmpool
