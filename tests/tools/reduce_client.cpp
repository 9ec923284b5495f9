// Test tool: the C++ client's view of whole-dataset reductions. For each op given, runs
// `reduce` over DATASET and prints {"op", "kind", "value", "index"} (JobValue's alternative).
//
//   reduce_client SOCKET DATASET OP...
#include <iostream>
#include <string>

#include "client/client.h"
#include "client/job_value.h"

namespace {

const char* kind_of(const shmpool::JobValue& v) {
    constexpr const char* kKinds[] = {"none", "int64", "uint64", "double"};
    return kKinds[v.index()];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::cerr << "usage: reduce_client SOCKET DATASET OP...\n";
        return 2;
    }
    try {
        shmpool::Client client(argv[1]);
        for (int i = 3; i < argc; ++i) {
            shmpool::JobRequest job;
            job.kernel = "reduce";
            job.inputs = {{"x", argv[2]}};
            job.params = {{"op", argv[i]}};
            job.chunk = 1;  // one range per row: every partial crosses the queue and is combined
            job.wait = true;
            nlohmann::json done = client.submit(job);
            shmpool::JobValue value = shmpool::job_value(done);
            std::cout << nlohmann::json{{"op", argv[i]}, {"kind", kind_of(value)}, {"value", shmpool::job_value_json(value)},
                                        {"index", done.value("index", nlohmann::json(nullptr))}}
                             .dump()
                      << "\n";
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "reduce_client: " << e.what() << "\n";
        return 1;
    }
}
