// Dispatches a request line to its verb's handler through a table (no switch), and gives
// handlers one way to answer: Call::ok / Call::fail, now or later (when a job ends).
#pragma once

#include <memory>
#include <string_view>

#include "common/protocol.h"
#include "server/api/access_policy.h"
#include "server/api/session.h"

namespace shmpool {

class Daemon;

// One request being answered. Copyable, so a handler can keep it until a job ends.
struct Call {
    Daemon* daemon;
    std::shared_ptr<Session> session;
    Request req;
    std::shared_ptr<void> open_token;  // counts the request as unanswered while a copy lives

    const nlohmann::json& args() const { return req.body; }
    const PeerCred& peer() const { return session->peer(); }
    const AccessPolicy& access() const;
    void ok(nlohmann::json result) const { session->send(reply_ok(req.id, std::move(result))); }
    // A success reply that carries a descriptor (SCM_RIGHTS); the reply says so with "fd": true.
    void ok_with_fd(nlohmann::json result, UniqueFd fd) const {
        nlohmann::json reply = reply_ok(req.id, std::move(result));
        reply["fd"] = true;
        session->send_with_fd(reply, std::move(fd));
    }
    void fail(ErrorCode code, const std::string& message) const {
        session->send(reply_error(req.id, code, message));
    }
    void fail(const Error& e) const { fail(e.code(), e.what()); }
};

using Handler = void (*)(const Call&);

class Router {
public:
    explicit Router(Daemon& daemon) : daemon_(daemon) {}
    void on_line(const std::shared_ptr<Session>& session, std::string_view line);
    void on_line_too_long(const std::shared_ptr<Session>& session);

private:
    void check_requests_open(const Session& session) const;
    Daemon& daemon_;
};

// Handlers, grouped by what they touch (server/handlers_*.cpp).
void handle_ping(const Call&);
void handle_workers(const Call&);
void handle_stats(const Call&);
void handle_kernels(const Call&);
void handle_shutdown(const Call&);
void handle_dataset_put(const Call&);
void handle_dataset_info(const Call&);
void handle_dataset_list(const Call&);
void handle_dataset_delete(const Call&);
void handle_dataset_save(const Call&);
void handle_dataset_get(const Call&);
void handle_dataset_open(const Call&);
void handle_dataset_share(const Call&);
void handle_dataset_unshare(const Call&);
void handle_job_result(const Call&);
void handle_job_drop_results(const Call&);
// too_many_descriptors when the connection already has its maximum of descriptor replies unsent.
void require_fd_room(const Call& c);
void handle_job_submit(const Call&);
void handle_job_status(const Call&);
void handle_job_wait(const Call&);
void handle_job_cancel(const Call&);

}  // namespace shmpool
