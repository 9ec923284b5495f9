// Example client of shmpoold, built against the installed package (find_package(shmpool)):
// connects, puts two small inline datasets, runs a `euclidean` job, prints the result as JSON
// (read with no copy: dataset.open passes a read-only descriptor of the output, mapped here).
//
//   shmpool_example_client [--socket PATH | --instance NAME] [n m d]
//
// Inputs (so anyone can check the output): X[i][k] = sin(i*d + k), Y[j][k] = cos(j*d + k),
// for i < n, j < m, k < d. Output: {"shape": [n, m], "distances": [[...], ...]} where
// distances[i][j] = |X[i] - Y[j]| (Euclidean), as computed by the daemon's workers.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <shmpool/client/client.h>

namespace {

nlohmann::json points(size_t rows, size_t dims, double (*f)(double)) {
    nlohmann::json data = nlohmann::json::array();
    for (size_t i = 0; i < rows; ++i) {
        nlohmann::json row = nlohmann::json::array();
        for (size_t k = 0; k < dims; ++k) row.push_back(f(static_cast<double>(i * dims + k)));
        data.push_back(row);
    }
    return data;
}

// The rows of an n x m float64 dataset, mapped read-only through the descriptor it came with.
nlohmann::json rows_of(const shmpool::OpenedDataset& d) {
    size_t n = d.info["shape"][0], m = d.info["shape"][1], bytes = d.info["bytes"];
    void* mapped = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, d.fd.get(), 0);
    if (mapped == MAP_FAILED) throw std::runtime_error(std::string("mmap() failed: ") + std::strerror(errno));
    const double* values = static_cast<const double*>(mapped);
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i) rows.push_back(std::vector<double>(values + i * m, values + (i + 1) * m));
    munmap(mapped, bytes);
    return rows;
}

struct Args {
    std::optional<std::string> socket, instance;
    std::vector<size_t> sizes{5, 4, 3};  // n, m, d
};

Args parse_args(int argc, char** argv) {
    Args args;
    std::vector<size_t> sizes;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if ((a == "--socket" || a == "--instance") && i + 1 < argc)
            (a == "--socket" ? args.socket : args.instance) = argv[++i];
        else
            sizes.push_back(std::stoul(a));
    }
    if (sizes.size() == 3) args.sizes = sizes;
    else if (!sizes.empty()) throw std::invalid_argument("give n m d, or nothing");
    return args;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        Args args = parse_args(argc, argv);
        size_t n = args.sizes[0], m = args.sizes[1], d = args.sizes[2];
        shmpool::Client client(shmpool::Client::socket_for(args.socket, args.instance));
        std::string tag = "example." + std::to_string(::getpid());
        client.put_data(tag + ".X", points(n, d, [](double x) { return std::sin(x); }));
        client.put_data(tag + ".Y", points(m, d, [](double x) { return std::cos(x); }));

        shmpool::JobRequest job;
        job.kernel = "euclidean";
        job.inputs = {{"X", tag + ".X"}, {"Y", tag + ".Y"}};
        job.output = tag + ".D";
        job.wait = true;
        nlohmann::json done = client.submit(job);
        shmpool::OpenedDataset result = client.open(tag + ".D");
        nlohmann::json distances = rows_of(result);
        for (const char* suffix : {".X", ".Y", ".D"}) client.remove(tag + suffix);

        std::cout << nlohmann::json{{"job", done["job"]}, {"shape", result.info["shape"]}, {"distances", distances}}.dump()
                  << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "shmpool_example_client: " << e.what() << "\n";
        return 1;
    }
}
