// Unit tests of the shmpool CLI's argument parsing (client/command.h): argv -> Command.
// No daemon: every command's request JSON, --param value parsing, and usage errors.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "client/command.h"
#include "client/command_values.h"
#include "common/names.h"

using nlohmann::json;
using shmpool::cli::Action;
using shmpool::cli::Command;
using shmpool::cli::Output;
using shmpool::cli::parse_command;
using shmpool::cli::UsageError;

namespace {

json request_of(std::vector<std::string> args) {
    Command cmd = parse_command(args);
    REQUIRE(cmd.action == Action::request);
    return cmd.request;
}

// The UsageError's command ("" for global); fails the test if parsing succeeds.
std::string usage_error_of(std::vector<std::string> args) {
    try {
        parse_command(args);
    } catch (const UsageError& e) {
        CHECK(std::string(e.what()).find('\n') == std::string::npos);
        return e.command();
    }
    FAIL("expected a usage error");
    return "";
}

std::string cwd_path(const std::string& relative) { return (std::filesystem::current_path() / relative).string(); }

}  // namespace

TEST_CASE("commands without arguments map to their verbs", "[cli]") {
    CHECK(request_of({"ping"}) == json{{"verb", "ping"}});
    CHECK(request_of({"workers"}) == json{{"verb", "workers"}});
    CHECK(request_of({"kernels"}) == json{{"verb", "kernels"}});
    CHECK(request_of({"shutdown"}) == json{{"verb", "shutdown"}});
    CHECK(request_of({"ls"}) == json{{"verb", "dataset.list"}});
}

TEST_CASE("global options choose the socket and the output mode", "[cli]") {
    Command plain = parse_command({"ping"});
    CHECK(plain.name == "ping");
    CHECK(plain.output == Output::human);
    CHECK(plain.socket == shmpool::default_socket_path("default"));
    CHECK(parse_command({"--instance", "test1", "ping"}).socket == shmpool::default_socket_path("test1"));
    CHECK(parse_command({"--instance=test2", "ping"}).socket == shmpool::default_socket_path("test2"));
    CHECK(parse_command({"--socket", "/tmp/x.sock", "ping"}).socket == "/tmp/x.sock");
    CHECK(parse_command({"--json", "ls"}).output == Output::json);
    SECTION("connection options are also accepted after the command") {
        Command after = parse_command({"ls", "--json", "--socket", "/tmp/y.sock"});
        CHECK(after.output == Output::json);
        CHECK(after.socket == "/tmp/y.sock");
        CHECK(parse_command({"info", "P", "--instance", "t3"}).socket == shmpool::default_socket_path("t3"));
    }
}

TEST_CASE("put FILE.npy sends the file's absolute path", "[cli]") {
    CHECK(request_of({"put", "data/x.npy", "--name", "X"}) ==
          json{{"verb", "dataset.put"}, {"name", "X"}, {"file", cwd_path("data/x.npy")}});
    CHECK(request_of({"put", "--name", "X", "/abs/./y.npy"})["file"] == "/abs/y.npy");
    SECTION("symlinks are resolved") {
        auto dir = std::filesystem::temp_directory_path() / ("shmpool_cli_test_" + std::to_string(getpid()));
        std::filesystem::create_directories(dir);
        std::ofstream(dir / "real.npy") << "x";
        std::filesystem::create_symlink(dir / "real.npy", dir / "link.npy");
        json file = request_of({"put", (dir / "link.npy").string(), "--name", "L"})["file"];
        std::filesystem::remove_all(dir);
        CHECK(file == std::filesystem::canonical(std::filesystem::temp_directory_path()).string() + "/" +
                          dir.filename().string() + "/real.npy");
    }
}

TEST_CASE("share and unshare send their targets; --all is \"*\"", "[cli]") {
    CHECK(request_of({"share", "P", "--with", "alice", "--with", "@staff"}) ==
          json{{"verb", "dataset.share"}, {"name", "P"}, {"with", {"alice", "@staff"}}});
    CHECK(request_of({"share", "P", "--all"})["with"] == json{"*"});
    CHECK(usage_error_of({"share", "P"}) == "share");
    CHECK(request_of({"unshare", "P"}) == json{{"verb", "dataset.unshare"}, {"name", "P"}});
    CHECK(request_of({"unshare", "P", "--with", "1000"})["with"] == json{"1000"});
}

TEST_CASE("put --shm opens the object here and passes it, with dtype and shape", "[cli]") {
    CHECK(request_of({"put", "--shm", "/myarray", "--dtype", "float32", "--shape", "4000,64", "--name", "X"}) ==
          json{{"verb", "dataset.put"}, {"name", "X"}, {"fd", true}, {"dtype", "float32"},
               {"shape", {4000, 64}}});
    CHECK(shmpool::cli::parse_command({"put", "--shm", "/myarray", "--dtype", "uint8", "--shape", "3", "--name", "X"})
              .fd_from == "/dev/shm/myarray");
    CHECK(request_of({"put", "--shm=/a", "--dtype=uint8", "--shape=2,3,4,5", "--name=Y"})["shape"] ==
          json{2, 3, 4, 5});
    CHECK(request_of({"put", "--shm", "/a", "--dtype", "int64", "--shape", "7", "--name", "Z"})["shape"] == json{7});
}

TEST_CASE("bad put usages are usage errors", "[cli]") {
    CHECK(usage_error_of({"put", "x.npy"}) == "put");                          // no --name
    CHECK(usage_error_of({"put", "--name", "X"}) == "put");                     // no source
    CHECK(usage_error_of({"put", "x.npy", "--shm", "/a", "--name", "X"}) == "put");
    CHECK(usage_error_of({"put", "x.npy", "--shape", "3", "--name", "X"}) == "put");
    CHECK(usage_error_of({"put", "--shm", "/a", "--shape", "3", "--name", "X"}) == "put");  // no --dtype
    CHECK(usage_error_of({"put", "--shm", "/a", "--dtype", "float64", "--name", "X"}) == "put");
    CHECK(usage_error_of({"put", "--shm", "/a", "--dtype", "complex", "--shape", "3", "--name", "X"}) == "put");
    for (const char* shape : {"", "4000,", ",64", "0,3", "1,2,3,4,5", "a", "-3", "3x4", "99999999999999999999999"})
        CHECK(usage_error_of({"put", "--shm", "/a", "--dtype", "float64", "--shape", shape, "--name", "X"}) == "put");
    CHECK(usage_error_of({"put", "a.npy", "b.npy", "--name", "X"}) == "put");
}

TEST_CASE("dataset commands name their dataset", "[cli]") {
    CHECK(request_of({"info", "P"}) == json{{"verb", "dataset.info"}, {"name", "P"}});
    CHECK(request_of({"rm", "P"}) == json{{"verb", "dataset.delete"}, {"name", "P"}});
    CHECK(request_of({"save", "D", "out/d.npy"}) ==
          json{{"verb", "dataset.save"}, {"name", "D"}, {"file", cwd_path("out/d.npy")}});
    CHECK(usage_error_of({"info"}) == "info");
    CHECK(usage_error_of({"info", "A", "B"}) == "info");
    CHECK(usage_error_of({"rm"}) == "rm");
    CHECK(usage_error_of({"save", "D"}) == "save");
    CHECK(usage_error_of({"save", "D", "a.npy", "b.npy"}) == "save");
}

TEST_CASE("run builds a job.submit that waits unless detached", "[cli]") {
    CHECK(request_of({"run", "euclidean", "--in", "X=A", "--in", "Y=B", "--out", "D", "--chunk", "84"}) ==
          json{{"verb", "job.submit"}, {"kernel", "euclidean"}, {"inputs", {{"X", "A"}, {"Y", "B"}}},
               {"params", json::object()}, {"output", "D"}, {"chunk", 84}, {"wait", true}});
    json detached = request_of({"run", "noop", "--detach"});
    CHECK(detached == json{{"verb", "job.submit"}, {"kernel", "noop"}, {"inputs", json::object()},
                           {"params", json::object()}, {"wait", false}});
    CHECK(request_of({"run", "euclidean", "--in", "X=A", "Y=B"})["inputs"] == json{{"X", "A"}, {"Y", "B"}});
    CHECK(request_of({"run", "rbf", "--in", "points=a=b"})["inputs"] == json{{"points", "a=b"}});
    CHECK_FALSE(request_of({"run", "noop", "--chunk", "0"}).contains("chunk"));
}

TEST_CASE("--param values are JSON when they parse, else strings", "[cli]") {
    json params = request_of({"run", "sleep", "--param", "rows=64", "--param", "ms=2.5", "--param", "on=true",
                              "--param", "v=[1,2]", "--param", "s=hello", "--param", "q=\"5\"", "--param", "e=",
                              "--param", "o={\"a\":1}", "--param", "n=null", "--param", "neg=-3", "--param",
                              "sp=a b"})["params"];
    CHECK(params == json{{"rows", 64}, {"ms", 2.5}, {"on", true}, {"v", {1, 2}}, {"s", "hello"}, {"q", "5"},
                         {"e", ""}, {"o", {{"a", 1}}}, {"n", nullptr}, {"neg", -3}, {"sp", "a b"}});
    CHECK(params["rows"].is_number_integer());
    CHECK(shmpool::cli::parse_param_value("[1,") == "[1,");
    CHECK(shmpool::cli::parse_param_value("1 2") == "1 2");
}

TEST_CASE("bad run usages are usage errors", "[cli]") {
    CHECK(usage_error_of({"run"}) == "run");
    CHECK(usage_error_of({"run", "--in", "X=A", "euclidean"}) == "run");  // --in takes the kernel word
    CHECK(usage_error_of({"run", "rbf", "--in", "points"}) == "run");
    CHECK(usage_error_of({"run", "rbf", "--in", "=A"}) == "run");
    CHECK(usage_error_of({"run", "rbf", "--in", "X=A", "--in", "X=B"}) == "run");
    CHECK(usage_error_of({"run", "sleep", "--param", "ms"}) == "run");
    CHECK(usage_error_of({"run", "sleep", "--param", "ms=1", "--param", "ms=2"}) == "run");
    CHECK(usage_error_of({"run", "sleep", "--chunk", "-1"}) == "run");
    CHECK(usage_error_of({"run", "sleep", "--chunk", "ten"}) == "run");
    CHECK(usage_error_of({"run", "sleep", "--chunk"}) == "run");
    CHECK(usage_error_of({"run", "sleep", "--out", "A", "--out", "B"}) == "run");
    CHECK(usage_error_of({"run", "sleep", "--detach=yes"}) == "run");
}

TEST_CASE("job commands take a numeric job id", "[cli]") {
    CHECK(request_of({"status", "7"}) == json{{"verb", "job.status"}, {"job", 7}});
    CHECK(request_of({"wait", "12"}) == json{{"verb", "job.wait"}, {"job", 12}});
    CHECK(request_of({"cancel", "3"}) == json{{"verb", "job.cancel"}, {"job", 3}});
    CHECK(usage_error_of({"status"}) == "status");
    CHECK(usage_error_of({"wait", "seven"}) == "wait");
    CHECK(usage_error_of({"cancel", "-1"}) == "cancel");
    CHECK(usage_error_of({"status", "1", "2"}) == "status");
}

TEST_CASE("help and version", "[cli]") {
    Command global = parse_command({"--help"});
    CHECK(global.action == Action::help);
    CHECK(global.name.empty());
    for (const char* name : {"ping", "put", "ls", "run", "status", "cancel"})
        CHECK(global.text.find(std::string("  ") + name + " ") != std::string::npos);
    CHECK(parse_command({"-h"}).action == Action::help);
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"run", "--help"}, {"run", "-h"}, {"--help", "run"}, {"run", "rbf", "--in", "bad", "--help"}}) {
        Command help = parse_command(args);
        CHECK(help.action == Action::help);
        CHECK(help.name == "run");
        CHECK(help.text.find("shmpool run euclidean") != std::string::npos);  // the example
    }
    CHECK(parse_command({"put", "--help"}).text.find("example") != std::string::npos);
    Command version = parse_command({"--version"});
    CHECK(version.action == Action::version);
    CHECK(version.text.rfind("shmpool ", 0) == 0);
}

TEST_CASE("bad global usages are usage errors", "[cli]") {
    CHECK(usage_error_of({}) == "");
    CHECK(usage_error_of({"--json"}) == "");
    CHECK(usage_error_of({"frobnicate"}) == "");
    CHECK(usage_error_of({"--bogus", "ping"}) == "");
    CHECK(usage_error_of({"--inst", "x", "ping"}) == "");  // no abbreviations
    CHECK(usage_error_of({"--instance"}) == "");
    CHECK(usage_error_of({"--instance", "a", "--socket", "/s", "ping"}) == "");
    CHECK(usage_error_of({"--instance", "../evil", "ping"}) == "");
    CHECK(usage_error_of({"--socket", "/a", "ping", "--socket", "/b"}) == "");
    CHECK(usage_error_of({"ping", "extra"}) == "ping");
    CHECK(usage_error_of({"ls", "--bogus"}) == "ls");
}
