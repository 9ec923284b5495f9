// Who may connect: the allow_users / allow_groups policy checked against a connection's
// SO_PEERCRED. Names are resolved once at start; numeric ids are accepted too.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

namespace shmpool {

struct PeerCred {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups at connect time (SO_PEERGROUPS)
    bool in_group(gid_t g) const;  // the primary gid or a supplementary one
};

// The credentials of the process at the other end of a connected Unix socket, with its
// supplementary groups. Throws Error(internal) when the kernel cannot tell them.
PeerCred peer_credentials(int fd);

// A user or group given by name or numeric id; `setting` names where in errors. Throws
// Error(bad_name) for an unknown name.
uid_t resolve_user(const std::string& name, const char* setting);
gid_t resolve_group(const std::string& name, const char* setting);

class PeerPolicy {
public:
    // `users`, `groups`: comma-separated names or numeric ids (empty: nobody by that route).
    // The daemon's own uid and root are always allowed. Throws Error(bad_name) for an
    // unknown user or group.
    // `users_setting` / `groups_setting` name the lists in errors.
    PeerPolicy(const std::string& users, const std::string& groups, const char* users_setting = "allow-users",
               const char* groups_setting = "allow-groups");
    bool allows(const PeerCred& peer) const;
    std::string describe() const;  // for the startup log

private:
    bool in_allowed_group(const PeerCred& peer) const;

    std::set<uid_t> uids_;
    std::set<gid_t> gids_;
};

// "a,b,,c" -> {"a","b","c"} (empty items dropped, spaces trimmed).
std::vector<std::string> split_list(const std::string& text);

}  // namespace shmpool
