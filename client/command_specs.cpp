// The table of CLI commands: what each takes, its help and example, and the request it builds.
// Requests come from client/requests.h, so the CLI and the library send identical JSON.
#include "client/command_specs.h"

#include "client/command.h"
#include "client/completion.h"
#include "client/command_values.h"
#include "client/requests.h"

namespace po = boost::program_options;

namespace shmpool::cli {

std::string Args::str(const char* key) const {
    if (!vm_.count(key)) throw UsageError(std::string("missing ") + key);
    return vm_[key].as<std::string>();
}

std::optional<std::string> Args::opt(const char* key) const {
    if (!vm_.count(key)) return std::nullopt;
    return vm_[key].as<std::string>();
}

std::vector<std::string> Args::list(const char* key) const {
    return vm_.count(key) ? vm_[key].as<std::vector<std::string>>() : std::vector<std::string>{};
}

bool Args::flag(const char* key) const { return vm_.count(key) && vm_[key].as<bool>(); }

namespace {

void put_options(po::options_description& d) {
    d.add_options()
        ("name", po::value<std::string>()->value_name("NAME")->required(), "name of the new dataset")
        ("fd-from", po::value<std::string>()->value_name("FILE.npy"),
         "open FILE.npy here and pass the open file to the daemon (no path crosses; no --allow-dir needed)")
        ("shm", po::value<std::string>()->value_name("SHM_NAME"),
         "copy a POSIX shared-memory object you created (e.g. /myarray) instead of a file")
        ("dtype", po::value<std::string>()->value_name("T"),
         "element type of the --shm array: float64 float32 int64 int32 uint8")
        ("shape", po::value<std::string>()->value_name("A,B[,C,D]"), "dims of the --shm array, e.g. 4000,64");
}

void run_options(po::options_description& d) {
    auto words = [] { return po::value<std::vector<std::string>>()->multitoken()->composing(); };
    d.add_options()
        ("in", words()->value_name("ROLE=DATASET"), "a kernel input (repeat for each role)")
        ("param", words()->value_name("KEY=VALUE"),
         "a kernel parameter; VALUE is JSON if it parses (64, 2.5, true, [1,2]), else a string")
        ("out", po::value<std::string>()->value_name("NAME"), "name of the output dataset (default job<ID>.out)")
        ("chunk", po::value<std::string>()->value_name("ROWS"), "rows per range (default: about 8 ranges per worker)")
        ("detach", po::bool_switch(), "print the job id and return without waiting");
}

void share_options(po::options_description& d) {
    d.add_options()
        ("with", po::value<std::vector<std::string>>()->multitoken()->composing()->value_name("USER|@GROUP"),
         "a user (name or uid) or @group (name or gid); repeat for more")
        ("all", po::bool_switch(), "every user allowed to connect");
}

// --with targets, and "*" for --all; `required`: at least one.
std::vector<std::string> share_targets(const Args& a, bool required) {
    std::vector<std::string> targets = a.list("with");
    if (a.flag("all")) targets.push_back("*");
    if (required && targets.empty()) throw UsageError("give --with USER|@GROUP (repeatable) or --all");
    return targets;
}

nlohmann::json build_put(const Args& a) {
    std::optional<std::string> file = a.opt("file"), shm = a.opt("shm"), fd_from = a.opt("fd-from");
    bool shm_args = a.opt("dtype") || a.opt("shape");
    if (fd_from && (file || shm || shm_args)) throw UsageError("give --fd-from FILE.npy alone, without FILE.npy or --shm");
    if (fd_from) return requests::put_fd(a.str("name"));
    if (file && (shm || shm_args)) throw UsageError("give FILE.npy or --shm/--dtype/--shape, not both");
    if (file) return requests::put_file(a.str("name"), *file);
    if (!shm) throw UsageError("missing FILE.npy or --shm SHM_NAME");
    if (!a.opt("dtype") || !a.opt("shape")) throw UsageError("--shm needs --dtype and --shape");
    nlohmann::json request = requests::put_fd(a.str("name"));  // the object opened here is passed
    request["dtype"] = parse_dtype(a.str("dtype"));
    request["shape"] = parse_shape(a.str("shape"));
    return request;
}

nlohmann::json build_run(const Args& a) {
    if (!a.opt("kernel"))
        throw UsageError("missing KERNEL (give it before --in/--param, which take every word that follows)");
    JobRequest job;
    job.kernel = a.str("kernel");
    job.inputs = parse_assignments(a.list("in"), "--in", "ROLE=DATASET");
    job.params = parse_params(a.list("param"));
    if (auto chunk = a.opt("chunk")) job.chunk = parse_count(*chunk, "--chunk");
    job.output = a.opt("out");
    job.wait = !a.flag("detach");
    return requests::submit(job);
}

void stats_options(po::options_description& d) {
    d.add_options()("prometheus", po::bool_switch(), "print the Prometheus text exposition format");
}

void top_options(po::options_description& d) {
    d.add_options()
        ("interval", po::value<std::string>()->value_name("MS")->default_value("1000"),
         "milliseconds between refreshes (and the span the rate is measured over)")
        ("once", po::bool_switch(), "print one frame and exit (for scripts and tests)");
}

nlohmann::json stats_settings(const Args& a) { return {{"prometheus", a.flag("prometheus")}}; }

nlohmann::json top_settings(const Args& a) {
    uint64_t interval = parse_count(a.str("interval"), "--interval");
    if (interval < 10 || interval > 3600000) throw UsageError("--interval must be 10 to 3600000 ms");
    return {{"interval_ms", interval}, {"once", a.flag("once")}};
}

std::string completion_script(const Args& a) {
    if (a.str("shell") != "bash") throw UsageError("only 'bash' completion is available");
    return bash_completion();
}

uint64_t job_arg(const Args& a) { return parse_count(a.str("job"), "JOB"); }

const Positional kName{"name", "NAME"};
const Positional kJob{"job", "JOB"};

std::vector<CommandSpec> make_specs() {
    return {
        {"ping", "", "check that the daemon answers", "shmpool ping", {}, nullptr,
         [](const Args&) { return requests::ping(); }},
        {"workers", "", "list the worker processes and what they run", "shmpool workers", {}, nullptr,
         [](const Args&) { return requests::workers(); }},
        {"stats", "[--prometheus]", "show counters: jobs, ranges, datasets, restarts, job latency histogram",
         "shmpool stats\nshmpool stats --prometheus > /var/lib/node_exporter/shmpool.prom", {}, stats_options,
         [](const Args&) { return requests::stats(); }, stats_settings},
        {"top", "[--interval MS] [--once]", "watch workers, running jobs and throughput, refreshed live",
         "shmpool top\nshmpool top --once --interval 500", {}, top_options,
         [](const Args&) { return requests::stats(); }, top_settings},
        {"kernels", "", "list the kernels with their inputs and parameters", "shmpool kernels", {}, nullptr,
         [](const Args&) { return requests::kernels(); }},
        {"shutdown", "", "stop the daemon", "shmpool --instance test shutdown", {}, nullptr,
         [](const Args&) { return requests::shutdown(); }},
        {"put", "FILE.npy --name NAME | --fd-from FILE.npy --name NAME | --shm SHM_NAME --dtype T --shape A,B[,C,D] --name NAME",
         "store an array as a new dataset, from a .npy file (by path or passed open) or a shared-memory object",
         "shmpool put points.npy --name P\nshmpool put --fd-from points.npy --name P\n"
         "shmpool put --shm /myarray --dtype float64 --shape 4000,64 --name X",
         {{"file", "FILE.npy", false}}, put_options, build_put},
        {"ls", "", "list the datasets", "shmpool ls", {}, nullptr, [](const Args&) { return requests::list(); }},
        {"info", "NAME", "describe a dataset", "shmpool info P", {kName}, nullptr,
         [](const Args& a) { return requests::info(a.str("name")); }},
        {"rm", "NAME", "delete a dataset", "shmpool rm P", {kName}, nullptr,
         [](const Args& a) { return requests::remove(a.str("name")); }},
        {"save", "NAME FILE.npy", "write a dataset to a .npy file", "shmpool save D distances.npy",
         {kName, {"file", "FILE.npy"}}, nullptr,
         [](const Args& a) { return requests::save(a.str("name"), a.str("file")); }},
        {"share", "NAME --with USER|@GROUP... | --all", "let other users read a dataset of yours (read-only)",
         "shmpool share P --with alice --with @analysts\nshmpool share P --all", {kName}, share_options,
         [](const Args& a) { return requests::share(a.str("name"), share_targets(a, true)); }},
        {"unshare", "NAME [--with USER|@GROUP...] [--all]", "take back shares of a dataset (none given: every share)",
         "shmpool unshare P --with alice\nshmpool unshare P", {kName}, share_options,
         [](const Args& a) { return requests::unshare(a.str("name"), share_targets(a, false)); }},
        {"run", "KERNEL --in ROLE=DATASET... [--param KEY=VALUE...] [--out NAME] [--chunk ROWS] [--detach]",
         "run a kernel over datasets and wait for it to end (with a progress bar on a terminal)",
         "shmpool run euclidean --in X=A --in Y=B --out D\nshmpool run sleep --param rows=64 --param ms=10 --detach",
         {{"kernel", "KERNEL", false}}, run_options, build_run},
        {"status", "JOB", "show a job's state and progress", "shmpool status 7", {kJob}, nullptr,
         [](const Args& a) { return requests::status(job_arg(a)); }},
        {"wait", "JOB", "wait for a job to end", "shmpool wait 7", {kJob}, nullptr,
         [](const Args& a) { return requests::wait(job_arg(a)); }},
        {"cancel", "JOB", "cancel a job (its output is deleted)", "shmpool cancel 7", {kJob}, nullptr,
         [](const Args& a) { return requests::cancel(job_arg(a)); }},
        {"completion", "bash", "print the shell completion script for shmpool",
         "source <(shmpool completion bash)", {{"shell", "SHELL"}}, nullptr, nullptr, nullptr, completion_script},
    };
}

}  // namespace

const std::vector<CommandSpec>& command_specs() {
    static const std::vector<CommandSpec> specs = make_specs();
    return specs;
}

const CommandSpec* find_command(std::string_view name) {
    for (const CommandSpec& spec : command_specs())
        if (spec.name == name) return &spec;
    return nullptr;
}

}  // namespace shmpool::cli
