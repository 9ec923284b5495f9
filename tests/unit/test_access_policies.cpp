// Unit tests of the access policies: PathPolicy (allowed directories, symlinks, `..`, new files,
// opens that refuse what changed after the check) and PeerPolicy (own uid and root always,
// users and groups by name or id, list parsing) and AccessPolicy (owners, shares, admins, mode bits).
#include <catch2/catch.hpp>

#include <linux/posix_acl.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>

#include "common/error.h"
#include "server/api/access_policy.h"
#include "server/api/peer_access.h"
#include "server/datasets/dataset_store.h"
#include "server/datasets/path_policy.h"

namespace {

namespace fs = std::filesystem;
using shmpool::ErrorCode;

// A fresh directory tree: root/in (allowed) with a file, root/out with a secret, and symlinks.
struct Tree {
    fs::path root;
    Tree() {
        std::string tmpl = (fs::temp_directory_path() / "shmpool-unit.XXXXXX").string();
        root = fs::canonical(mkdtemp(tmpl.data()));
        fs::create_directories(root / "in" / "sub");
        fs::create_directories(root / "out");
        std::ofstream(root / "in" / "a.npy") << "x";
        std::ofstream(root / "out" / "secret.npy") << "x";
        fs::create_symlink(root / "out" / "secret.npy", root / "in" / "link_out.npy");
        fs::create_symlink(root / "in" / "a.npy", root / "in" / "link_in.npy");
        fs::create_symlink(root / "out", root / "in" / "dir_out");
    }
    ~Tree() { fs::remove_all(root); }
    std::string in(const std::string& rel) const { return (root / "in" / rel).string(); }
};

ErrorCode code_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const shmpool::Error& e) {
        return e.code();
    }
    FAIL("no error");
    return ErrorCode::internal;
}

}  // namespace

TEST_CASE("PathPolicy allows only resolved paths inside the allowed directories") {
    Tree t;
    shmpool::PathPolicy policy({(t.root / "in").string()});
    CHECK(policy.resolve_existing(t.in("a.npy")) == t.in("a.npy"));
    CHECK(policy.resolve_existing(t.in("link_in.npy")) == t.in("a.npy"));
    CHECK(policy.resolve_existing(t.in("sub/../a.npy")) == t.in("a.npy"));
    for (const std::string& bad : {t.in("link_out.npy"), t.in("dir_out/secret.npy"), t.in("../out/secret.npy"),
                                   (t.root / "out" / "secret.npy").string(), std::string("a.npy"), std::string(""),
                                   t.in("../nonexistent.npy"), std::string("/etc/passwd"), t.root.string()})
        CHECK(code_of([&] { policy.resolve_existing(bad); }) == ErrorCode::path_not_allowed);
    CHECK(code_of([&] { policy.resolve_existing(t.in("missing.npy")); }) == ErrorCode::io_error);
}

TEST_CASE("PathPolicy resolves a new file's directory, never its last component") {
    Tree t;
    shmpool::PathPolicy policy({(t.root / "in").string()});
    CHECK(policy.resolve_new(t.in("new.npy")) == t.in("new.npy"));
    CHECK(policy.resolve_new(t.in("sub/new.npy")) == t.in("sub/new.npy"));
    for (const std::string& bad : {t.in("dir_out/new.npy"), t.in("../out/new.npy"), t.in(".."), t.in("sub/"),
                                   std::string("/tmp/new.npy"), std::string("new.npy"), (t.root / "in").string()})
        CHECK(code_of([&] { policy.resolve_new(bad); }) == ErrorCode::path_not_allowed);
    CHECK(code_of([&] { policy.resolve_new(t.in("nodir/new.npy")); }) == ErrorCode::io_error);
}

TEST_CASE("PathPolicy opens a checked path beneath its directory, refusing a symlink swapped in since") {
    Tree t;
    shmpool::PathPolicy policy({(t.root / "in").string()});
    std::ofstream(t.in("sub/x.npy")) << "inside";
    std::ofstream(t.root / "out" / "x.npy") << "secret";
    shmpool::UniqueFd fd = policy.open_existing(t.in("sub/x.npy"));
    char buf[16] = {};
    CHECK(read(fd.get(), buf, sizeof buf) == 6);
    CHECK(std::string(buf) == "inside");
    CHECK(policy.open_existing(t.in("link_in.npy")));  // a symlink that stays inside, resolved first

    // the checks pass, then sub/ becomes a symlink out: the open itself refuses it
    std::string checked = policy.resolve_existing(t.in("sub/x.npy"));
    std::string target = policy.resolve_new(t.in("sub/new.npy"));
    fs::rename(t.root / "in" / "sub", t.root / "sub.moved");
    fs::create_directory_symlink(t.root / "out", t.root / "in" / "sub");
    CHECK(code_of([&] { policy.open_resolved(checked, O_RDONLY, t.in("sub/x.npy")); }) == ErrorCode::path_not_allowed);
    // and a new file's directory likewise
    CHECK(code_of([&] { policy.open_resolved(target.substr(0, target.rfind('/')), O_PATH | O_DIRECTORY, target); }) ==
          ErrorCode::path_not_allowed);
    CHECK(code_of([&] { policy.open_resolved((t.root / "out" / "x.npy").string(), O_RDONLY, "x"); }) ==
          ErrorCode::path_not_allowed);
    CHECK(code_of([&] { policy.open_existing(t.in("missing.npy")); }) == ErrorCode::io_error);
    shmpool::PathPolicy::NewFileDir dir = policy.open_new_parent(t.in("new.npy"));
    CHECK(dir.dir);
    CHECK(dir.name == "new.npy");
    CHECK(dir.resolved == t.in("new.npy"));
}

TEST_CASE("PathPolicy without directories refuses every path") {
    Tree t;
    shmpool::PathPolicy none({});
    CHECK(code_of([&] { none.resolve_existing(t.in("a.npy")); }) == ErrorCode::path_not_allowed);
    CHECK(code_of([&] { none.resolve_new(t.in("b.npy")); }) == ErrorCode::path_not_allowed);
    CHECK(code_of([&] { shmpool::PathPolicy({t.in("no-such-dir")}); }) == ErrorCode::io_error);
}

TEST_CASE("PeerPolicy: own uid and root always, others by user or group") {
    shmpool::PeerPolicy own("", "");
    CHECK(own.allows({1, 0, 0, {}}));
    CHECK(own.allows({1, geteuid(), 12345, {}}));
    CHECK_FALSE(own.allows({1, 54321, 54321, {}}));
    shmpool::PeerPolicy by_id("54321, 777", "4242");
    CHECK(by_id.allows({1, 54321, 1, {}}));
    CHECK(by_id.allows({1, 777, 1, {}}));
    CHECK(by_id.allows({1, 60000, 4242, {}}));  // primary group
    CHECK_FALSE(by_id.allows({1, 60000, 60000, {}}));
    shmpool::PeerPolicy by_name("nobody", "");
    CHECK(by_name.allows({1, 65534, 65534, {}}));
    CHECK(code_of([] { shmpool::PeerPolicy("no-such-user-xyz", ""); }) == ErrorCode::bad_name);
    CHECK(code_of([] { shmpool::PeerPolicy("", "no-such-group-xyz"); }) == ErrorCode::bad_name);
}

TEST_CASE("split_list trims and drops empty items") {
    CHECK(shmpool::split_list("") == std::vector<std::string>{});
    CHECK(shmpool::split_list(" a, b ,,c,") == std::vector<std::string>{"a", "b", "c"});
    CHECK(shmpool::split_list(",") == std::vector<std::string>{});
}

namespace {

struct stat file_stat(uid_t uid, gid_t gid, mode_t mode) {
    struct stat st {};
    st.st_uid = uid, st.st_gid = gid, st.st_mode = S_IFREG | mode;
    return st;
}

// An ACL entry: tag (linux/posix_acl.h), rwx bits, uid or gid (named entries).
struct Entry {
    uint16_t tag, perm;
    uint32_t id = 0xffffffff;
};

// A file's permissions, with the ACL given as Linux's system.posix_acl_access bytes (version 2,
// then little-endian tag, perm and id per entry).
shmpool::FilePermissions file(uid_t uid, gid_t gid, mode_t mode, const std::vector<Entry>& acl = {}) {
    std::string bytes = acl.empty() ? "" : std::string{2, 0, 0, 0};
    for (const Entry& e : acl) {
        const uint32_t fields[] = {e.tag, e.perm};
        for (uint32_t v : fields) bytes += std::string{char(v & 0xff), char(v >> 8)};
        for (int shift = 0; shift < 32; shift += 8) bytes += char((e.id >> shift) & 0xff);
    }
    return shmpool::FilePermissions(file_stat(uid, gid, mode), bytes, "f");
}

shmpool::PeerCred peer(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) { return {1, uid, gid, std::move(groups)}; }

}  // namespace

TEST_CASE("AccessPolicy: owners, shares by user, group or all, and admins") {
    shmpool::AccessPolicy policy("54321", "4242");
    shmpool::Dataset ds;
    ds.name = "X", ds.owner_uid = 1000;
    const auto alice = peer(1000, 1000), bob = peer(2000, 2000, {3000}), admin = peer(54321, 1), by_group = peer(7, 4242);
    CHECK(policy.may_read(alice, ds));
    CHECK_FALSE(policy.may_read(bob, ds));
    CHECK(policy.may_read(admin, ds));
    CHECK(policy.may_read(by_group, ds));  // an admin group member
    CHECK(policy.may_read(peer(0, 0), ds));
    CHECK(code_of([&] { policy.require_read(bob, ds, "1000/X"); }) == ErrorCode::unknown_dataset);
    ds.shares.groups = {3000};  // bob's supplementary group
    CHECK(policy.may_read(bob, ds));
    CHECK(code_of([&] { policy.require_owner(bob, ds, "delete"); }) == ErrorCode::not_owner);
    policy.require_owner(admin, ds, "delete");
    ds.shares = {};
    ds.shares.users = {2000};
    CHECK(policy.may_read(bob, ds));
    CHECK_FALSE(policy.may_read(peer(2001, 2001), ds));
    ds.shares.all = true;
    CHECK(policy.may_read(peer(2001, 2001), ds));
    CHECK(code_of([&] { policy.require_admin(bob, "shutdown"); }) == ErrorCode::not_admin);
    policy.require_admin(peer(geteuid(), 0), "shutdown");
    CHECK(code_of([&] { policy.require_job_owner(bob, 1000, 7); }) == ErrorCode::not_owner);
    CHECK(code_of([&] { policy.require_own_namespace(bob, 1000, "1000/Y"); }) == ErrorCode::not_owner);
}

TEST_CASE("AccessPolicy judges files by the peer's class: owner, else group, else others") {
    shmpool::AccessPolicy policy("", "");
    using shmpool::ObjectUse;
    auto access = [&](const shmpool::PeerCred& p, const shmpool::FilePermissions& f, ObjectUse use) {
        return code_of([&] { policy.require_file_access(p, f, use, "f"); });
    };
    const auto alice = peer(1000, 1000, {50});
    CHECK(access(alice, file(0, 0, 0600), ObjectUse::read) == ErrorCode::permission_denied);
    CHECK(access(alice, file(0, 0, 0644), ObjectUse::write) == ErrorCode::permission_denied);
    CHECK_NOTHROW(policy.require_file_access(alice, file(0, 50, 0640), ObjectUse::read, "f"));  // its group
    CHECK(access(alice, file(1000, 50, 0040), ObjectUse::read) == ErrorCode::permission_denied);  // owner class wins
    CHECK_NOTHROW(policy.require_file_access(peer(0, 0), file(1000, 1000, 0), ObjectUse::write, "f"));  // root
    CHECK(code_of([&] { policy.require_owned_object(alice, file_stat(0, 0, 0666), "o"); }) == ErrorCode::permission_denied);
    CHECK(code_of([&] { policy.require_dir_access(alice, file(0, 0, 0755), ObjectUse::write, "d"); }) ==
          ErrorCode::permission_denied);
    auto tmp = file(0, 0, 01777);
    CHECK(code_of([&] { policy.require_may_replace(alice, tmp, file(0, 0, 0666), "f"); }) ==
          ErrorCode::permission_denied);  // sticky: not hers
    CHECK_NOTHROW(policy.require_may_replace(alice, tmp, file(1000, 1000, 0644), "f"));
}

TEST_CASE("FilePermissions follows a POSIX ACL as the kernel does, not the mode bits") {
    const auto alice = peer(1000, 1000, {50}), bob = peer(2000, 2000), carol = peer(3000, 3000, {60});
    // mode 0644 (group bits = the mask, r--) with alice named and denied: others' r-- is not hers
    auto denies_alice = file(0, 0, 0644, {{ACL_USER_OBJ, 6}, {ACL_USER, 0, 1000}, {ACL_GROUP_OBJ, 4}, {ACL_MASK, 4},
                                          {ACL_OTHER, 4}});
    CHECK_FALSE(denies_alice.grants(alice, 4));
    CHECK(denies_alice.grants(bob, 4));
    CHECK(denies_alice.grants(peer(0, 0), 6));  // root
    // mode 0600 with bob named rw-, through a mask of r--: bob reads, does not write
    auto grants_bob = file(0, 0, 0640, {{ACL_USER_OBJ, 6}, {ACL_USER, 6, 2000}, {ACL_GROUP_OBJ, 0}, {ACL_MASK, 4},
                                        {ACL_OTHER, 0}});
    CHECK(grants_bob.grants(bob, 4));
    CHECK_FALSE(grants_bob.grants(bob, 2));
    CHECK_FALSE(grants_bob.grants(alice, 4));
    // a group named: carol through group 60; alice's group 50 matches the owning group, which
    // grants nothing, so others' r-- does not apply to her either
    auto by_group = file(7, 50, 0674, {{ACL_USER_OBJ, 6}, {ACL_GROUP_OBJ, 0}, {ACL_GROUP, 5, 60}, {ACL_MASK, 7},
                                       {ACL_OTHER, 4}});
    CHECK(by_group.grants(carol, 5));
    CHECK_FALSE(by_group.grants(alice, 4));
    CHECK(by_group.grants(bob, 4));
    CHECK_FALSE(by_group.grants(peer(7, 7), 1));  // the owner's entry: rw- only
    CHECK(by_group.has_acl());
    CHECK_FALSE(file(0, 0, 0644).has_acl());
    // bytes not in the format are an error, never a guess
    CHECK_THROWS_AS(shmpool::FilePermissions(file_stat(0, 0, 0644), std::string("\x02\0\0\0\x01", 5), "f"),
                    shmpool::Error);
    CHECK_THROWS_AS(shmpool::FilePermissions(file_stat(0, 0, 0644), std::string("\x01\0\0\0", 4), "f"),
                    shmpool::Error);
}
