// The gaussian kernel in-process, no daemon, no fresh pages: ns per element of its compute, with
// the images in cache (few) or in memory (many); what bench/analysis.md's gaussian section cites.
//
// Build against a build tree (SRC its source tree, BUILD its build directory), then run:
//   B=/usr/include/x86_64-linux-gnu/openblas-serial L=/usr/lib/x86_64-linux-gnu/openblas-serial
//   g++ -std=c++20 -O2 -I SRC -I $B bench/gaussian_probe.cpp BUILD/libshmpool_kernels.a
//       BUILD/libshmpool_common.a -L $L -lopenblas -ldl -o /tmp/gaussian_probe
//   /tmp/gaussian_probe REPEAT [IMAGES SIDE SIGMA]   (default: the four sizes of gaussian_sizes.py)
// SHMPOOL_CPU picks the SIMD path as in the daemon. Prints min and median ns per element: float64,
// float32 with double sums (the default), float32 with float32 sums.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "worker/kernel.h"

using namespace shmpool;

template <class T>
void probe(uint64_t images, uint64_t side, double sigma, int repeat, const char* sums = "float64") {
    ArrayMeta meta;
    meta.dtype = sizeof(T) == 8 ? DType::float64 : DType::float32;
    meta.shape.ndim = 3;
    meta.shape.dims[0] = images, meta.shape.dims[1] = side, meta.shape.dims[2] = side;
    std::vector<T> in(images * side * side), out(in.size());
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> uniform(0, 1);
    for (T& v : in) v = T(uniform(rng));
    nlohmann::json params = {{"sigma", sigma}, {"sums", sums}};
    const Kernel& kernel = *find_kernel("gaussian");
    Plan plan = kernel.plan(PlanInput{params, {{"images", meta}}});
    std::vector<double> seconds;
    for (int r = 0; r <= repeat; ++r) {  // the first run warms up (and touches the output)
        RunContext ctx{params, {{"images", ArrayView{meta, in.data(), nullptr}}},
                       ArrayView{meta, out.data(), out.data()}};
        auto t0 = std::chrono::steady_clock::now();
        kernel.start(ctx)->run(0, plan.rows);
        if (r) seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(seconds.begin(), seconds.end());
    double ns = 1e9 / double(in.size());
    std::printf("%lux%lux%lu sigma %.1f %s, %s sums: min %.2f ns/element, median %.2f\n", images, side, side,
                sigma, sizeof(T) == 8 ? "float64" : "float32", sums, seconds.front() * ns,
                seconds[seconds.size() / 2] * ns);
}

int main(int argc, char** argv) {
    int repeat = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
    struct Size {
        uint64_t images, side;
        double sigma;
    };
    std::vector<Size> sizes = {{20000, 28, 1.2}, {2000, 64, 2}, {200, 256, 3}, {12, 1024, 3}};
    if (argc > 4)
        sizes = {{std::strtoull(argv[2], nullptr, 10), std::strtoull(argv[3], nullptr, 10), std::atof(argv[4])}};
    for (const Size& s : sizes) {
        probe<double>(s.images, s.side, s.sigma, repeat);
        probe<float>(s.images, s.side, s.sigma, repeat);
        probe<float>(s.images, s.side, s.sigma, repeat, "float32");
    }
}
