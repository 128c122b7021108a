/** @file Benchmark: one log density + gradient (and one leapfrog step) of the election model
 *  (ARCHITECTURE §1) on the CUDA backend against the CPU backend, and against the bytes-read
 *  floor of ARCHITECTURE §9.
 *
 *  For each n (default 300000 1000000 3000000 10000000) and family (default bernoulli) it
 *  simulates the data (hbglm::simulate_election), builds the problem with default priors, makes a
 *  CPU and a CUDA backend through the backend seam (detail::make_backend), and evaluates at one
 *  fixed q drawn uniformly on (-2, 2) (Stan's default initialization) from the counter-based RNG.
 *  Times are wall-clock medians per call; the CUDA backend synchronizes inside every
 *  log_density_grad (its log density comes back to the host), so a call's wall time is its whole
 *  cost. The floor is n (8p + 8 + 4K) bytes (X, y and the group indices read once) at the
 *  device's memory bandwidth: 3.35 TB/s for an H100 SXM, 4.8 TB/s for an H200.
 *
 *  Device memory: data_MB is what the backend uploads (X, y, Z and Zᵀ as CSR with 8-byte values
 *  and 4-byte indices, computed from the design's array sizes as cuda_model_data stores them);
 *  dev_MB is the peak device memory the CUDA backend took, measured with the driver's
 *  cuMemGetInfo (libcuda.so.1, opened at run time so that no build needs the CUDA headers) as
 *  free memory just before make_backend minus the least free memory seen after it (after the
 *  upload, the first gradient, the timing loops and the leapfrog steps), so it counts the data,
 *  one chain's buffers, library workspaces and the 2 MiB granularity of the allocator, not the
 *  CUDA context itself. Memory allocated and freed inside one call would be missed (the backend
 *  allocates at construction only). dev/floor = dev_MB / floor_MB.
 *
 *  A size whose data do not fit in GPU memory is reported and skipped (make_backend's message).
 *  --time-budget stops before a size that would likely not finish in time (its set-up estimated
 *  from the last size's, linear in n).
 *
 *  --deep-chains C adds, per size, C chains on CUDA backends running one transition each at once
 *  at the deepest tree (bench_common.hpp, transitions_at_deepest_tree: 1,023 leapfrog steps each),
 *  the most device memory a run of C chains takes: a `deep-chains` line with the peak (measured
 *  as dev_MB, from before the chains' backends are made, so with the data uploaded once for all)
 *  against the data (data_MB) plus the C chains' sampler vectors (sampler_MB), against
 *  floor_MB plus sampler_MB, and (peak - sampler_MB) / floor_MB (issue 6's target, "device peak
 *  under 1.5× the data plus the chains' vectors", read either way); the exit status is 1 when a
 *  chain stopped short of that depth or failed.
 *
 *  Usage: hbglm_bench_grad_eval_cuda [--csv] [--family bernoulli|gaussian|both] [--seed S]
 *           [--min-reps N] [--min-time SEC] [--cpu-reps N] [--max-cpu-n N] [--time-budget SEC]
 *           [--deep-chains C] [n ...]
 *  Output: a table on stdout (CSV with --csv; the description goes to stderr then). */

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <dlfcn.h>

#include "backend/registry.hpp"
#include "hbglm/backend.hpp"
#include "hbglm/error.hpp"
#include "hbglm/problem.hpp"
#include "bench/bench_common.hpp"
#include "hbglm/simulate.hpp"
// The bench target's include path has host/ but not the project root: reach kernels/ relatively.
#include "../kernels/rng.cuh"

namespace {

using hbglm::bench::clock_type;
using hbglm::bench::fixed_q;
using hbglm::bench::median;
using hbglm::bench::seconds_since;

/** Free device memory through the CUDA driver API, loaded with dlopen: the bench is compiled by
 *  the host compiler without the CUDA include path, and the CPU-only build has no CUDA at all.
 *  It makes device 0's primary context current on this thread (the one the runtime, and so the
 *  backend, uses), so the context's own memory is in every reading and cancels out. */
class device_memory_probe {
 public:
  device_memory_probe() {
    handle_ = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!handle_) return;
    auto sym = [&](const char* name) { return dlsym(handle_, name); };
    using init_fn = int (*)(unsigned);
    using device_get_fn = int (*)(int*, int);
    using retain_fn = int (*)(void**, int);
    using set_current_fn = int (*)(void*);
    auto init = reinterpret_cast<init_fn>(sym("cuInit"));
    auto device_get = reinterpret_cast<device_get_fn>(sym("cuDeviceGet"));
    auto retain = reinterpret_cast<retain_fn>(sym("cuDevicePrimaryCtxRetain"));
    auto set_current = reinterpret_cast<set_current_fn>(sym("cuCtxSetCurrent"));
    get_info_ = reinterpret_cast<get_info_fn>(sym("cuMemGetInfo_v2"));
    int device = 0;
    void* context = nullptr;
    if (!init || !device_get || !retain || !set_current || !get_info_ || init(0) != 0 ||
        device_get(&device, 0) != 0 || retain(&context, device) != 0 ||
        set_current(context) != 0) {
      get_info_ = nullptr;
    }
  }
  device_memory_probe(const device_memory_probe&) = delete;
  device_memory_probe& operator=(const device_memory_probe&) = delete;
  ~device_memory_probe() {
    // The primary context stays retained until exit: releasing it could destroy the context
    // under the runtime's feet. dlclose is skipped for the same reason.
  }

  bool available() const { return get_info_ != nullptr; }

  /// Free bytes on the device now, or -1 when unknown.
  double free_bytes() const {
    if (!get_info_) return -1.0;
    std::size_t free = 0, total = 0;
    if (get_info_(&free, &total) != 0) return -1.0;
    return static_cast<double>(free);
  }

 private:
  using get_info_fn = int (*)(std::size_t*, std::size_t*);
  void* handle_ = nullptr;
  get_info_fn get_info_ = nullptr;
};

/** Tracks the least free device memory seen since start(): the peak taken since then. */
struct peak_tracker {
  const device_memory_probe* probe = nullptr;
  double base = -1.0, least = -1.0;
  void start() {
    base = least = probe->free_bytes();
  }
  void sample() {
    const double f = probe->free_bytes();
    if (f >= 0.0 && (least < 0.0 || f < least)) least = f;
  }
  /// Peak bytes taken since start(), NAN when the driver could not be asked.
  double peak() const { return base < 0.0 || least < 0.0 ? NAN : base - least; }
};

constexpr double h100_bandwidth = 3.35e12;  ///< H100 SXM HBM3, bytes/s
constexpr double h200_bandwidth = 4.8e12;   ///< H200 HBM3e, bytes/s

struct options {
  std::vector<std::size_t> sizes;
  std::vector<hbglm::family> families;
  bool csv = false;
  std::uint64_t seed = 1;
  int min_reps = 20;
  double min_seconds = 0.5;
  int cpu_reps = 3;
  std::size_t max_cpu_n = 10000000;
  double time_budget = 1e9;
  int deep_chains = 0;  ///< chains at the deepest tree per size (0: none)
};

[[noreturn]] void usage(const std::string& problem, int status = 2) {
  std::fprintf(stderr,
               "%s\nusage: hbglm_bench_grad_eval_cuda [--csv] [--family bernoulli|gaussian|both] "
               "[--seed S] [--min-reps N] [--min-time SEC] [--cpu-reps N] [--max-cpu-n N] "
               "[--time-budget SEC] [--deep-chains C] [n ...]\n  n: observations, default "
               "300000 1000000 3000000 "
               "10000000 (1e6 and 3e5 are accepted); --cpu-reps 0 skips the CPU backend\n",
               problem.c_str());
  std::exit(status);
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value after " + a);
      return argv[++i];
    };
    try {
      if (a == "--csv") {
        o.csv = true;
      } else if (a == "--family") {
        const std::string f = next();
        if (f == "both") {
          o.families = {hbglm::family::bernoulli, hbglm::family::gaussian};
        } else if (f == "bernoulli" || f == "gaussian") {
          o.families.push_back(hbglm::parse_family(f));
        } else {
          usage("--family must be bernoulli, gaussian or both");
        }
      } else if (a == "--seed") {
        o.seed = std::stoull(next());
      } else if (a == "--min-reps") {
        o.min_reps = std::max(1, std::stoi(next()));
      } else if (a == "--min-time") {
        o.min_seconds = std::stod(next());
      } else if (a == "--cpu-reps") {
        o.cpu_reps = std::max(0, std::stoi(next()));
      } else if (a == "--max-cpu-n") {
        o.max_cpu_n = static_cast<std::size_t>(std::stod(next()));
      } else if (a == "--time-budget") {
        o.time_budget = std::stod(next());
      } else if (a == "--deep-chains") {
        o.deep_chains = std::max(0, std::min(64, std::stoi(next())));
      } else if (a == "--help" || a == "-h") {
        usage("Times the log density + gradient of the election model on CUDA and CPU.", 0);
      } else if (!a.empty() && a[0] != '-') {
        const double n = std::stod(a);
        if (!(n >= 1.0 && n <= 1e8)) usage("n must be between 1 and 1e8: " + a);
        o.sizes.push_back(static_cast<std::size_t>(n));
      } else {
        usage("unknown option " + a);
      }
    } catch (const std::logic_error&) {  // stoi/stod: not a number, out of range
      usage("not a number after or in " + a);
    }
  }
  if (o.sizes.empty()) o.sizes = {300000, 1000000, 3000000, 10000000};
  if (o.families.empty()) o.families = {hbglm::family::bernoulli};
  return o;
}

/// Median wall time of f() in seconds: one warm-up call, then at least min_reps calls and at
/// least min_seconds.
double time_median(const std::function<void()>& f, int min_reps, double min_seconds) {
  f();
  std::vector<double> wall;
  const auto start = clock_type::now();
  while (static_cast<int>(wall.size()) < min_reps || seconds_since(start) < min_seconds) {
    const auto t0 = clock_type::now();
    f();
    wall.push_back(seconds_since(t0));
  }
  return median(wall);
}

struct result {
  std::size_t n = 0;
  std::string family;
  std::size_t p = 0, K = 0, dim = 0;
  double setup_s = 0.0;
  double cpu_ms = NAN, cuda_ms = NAN, leapfrog_ms = NAN;
  double floor_mb = 0.0, floor_us = 0.0;
  double data_mb = 0.0;              ///< X, y, Z, Zᵀ as the backend uploads them
  double device_peak_mb = NAN;       ///< measured peak device memory of the CUDA backend
  double lp_rel = NAN, grad_rel = NAN;
  std::string note;
};

void print_header(const options& o) {
  if (o.csv) {
    std::printf(
        "n,family,p,K,dim,setup_s,cpu_ms,cuda_ms,leapfrog_ms,floor_MB,floor_us,cuda_over_floor,"
        "cuda_GB_per_s,cpu_over_cuda,lp_rel_diff,grad_max_rel_diff,data_MB,device_peak_MB,"
        "device_peak_over_floor,note\n");
  } else {
    std::printf("%9s %-9s %3s %2s %8s %7s %9s %8s %8s %8s %8s %7s %7s %8s %8s %8s %8s %8s %9s %s\n",
                "n", "family", "p", "K", "dim", "setup_s", "cpu_ms", "cuda_ms", "lf_ms",
                "floor_MB", "floor_us", "x_floor", "GB/s", "cpu/cuda", "lp_rel", "grad_rel",
                "data_MB", "dev_MB", "dev/floor", "note");
  }
}

void print_row(const result& r, const options& o) {
  const double x_floor = r.cuda_ms * 1e3 / r.floor_us;
  const double gbs = r.floor_mb * 1e6 / (r.cuda_ms * 1e-3) / 1e9;
  const double speedup = r.cpu_ms / r.cuda_ms;
  const double peak_over_floor = r.device_peak_mb / r.floor_mb;
  if (o.csv) {
    std::printf(
        "%zu,%s,%zu,%zu,%zu,%.2f,%.4f,%.4f,%.4f,%.2f,%.2f,%.3f,%.1f,%.2f,%.2e,%.2e,%.2f,%.1f,%.3f,"
        "%s\n",
        r.n, r.family.c_str(), r.p, r.K, r.dim, r.setup_s, r.cpu_ms, r.cuda_ms, r.leapfrog_ms,
        r.floor_mb, r.floor_us, x_floor, gbs, speedup, r.lp_rel, r.grad_rel, r.data_mb,
        r.device_peak_mb, peak_over_floor, r.note.c_str());
  } else {
    std::printf(
        "%9zu %-9s %3zu %2zu %8zu %7.1f %9.3f %8.4f %8.4f %8.1f %8.1f %7.2f %7.0f %8.1f %8.1e "
        "%8.1e %8.1f %8.0f %9.2f %s\n",
        r.n, r.family.c_str(), r.p, r.K, r.dim, r.setup_s, r.cpu_ms, r.cuda_ms, r.leapfrog_ms,
        r.floor_mb, r.floor_us, x_floor, gbs, speedup, r.lp_rel, r.grad_rel, r.data_mb,
        r.device_peak_mb, peak_over_floor, r.note.c_str());
  }
  std::fflush(stdout);
}

double bandwidth_of_device(std::string* name) {
  const auto devices = hbglm::backend_devices(hbglm::backend_kind::cuda);
  *name = devices.empty() ? "no CUDA device" : devices.front();
  if (name->find("H200") != std::string::npos) return h200_bandwidth;
  return h100_bandwidth;
}

/// --deep-chains: the device memory of o.deep_chains chains at their deepest (the gradient's
/// backend is gone by now, and with it the uploaded data, so the peak counts one upload).
/// @return whether every chain got to the deepest tree
bool deep_chains_line(const hbglm::problem& prob, const result& r, const options& o,
                      peak_tracker& tracker, std::FILE* out) {
  const auto t0 = clock_type::now();
  int depth = 0;
  std::string failure;
  try {
    tracker.start();
    depth = hbglm::bench::transitions_at_deepest_tree(hbglm::backend_kind::cuda, prob.model_ptr,
                                                      o.deep_chains, o.seed,
                                                      [&] { tracker.sample(); });
  } catch (const std::exception& e) {
    failure = e.what();
  }
  const double sampler_mb =
      o.deep_chains * hbglm::bench::sampler_vector_bytes(r.dim) / 1e6;
  const double peak_mb = tracker.peak() / 1e6;
  std::fprintf(out,
               "deep-chains n=%zu family=%s chains=%d depth=%d seconds=%.1f device_peak_MB=%.1f "
               "data_MB=%.1f floor_MB=%.1f sampler_MB=%.1f peak_over_data_plus_sampler=%.3f "
               "peak_over_floor_plus_sampler=%.3f peak_less_sampler_over_floor=%.3f%s%s\n",
               r.n, r.family.c_str(), o.deep_chains, depth, seconds_since(t0), peak_mb,
               r.data_mb, r.floor_mb, sampler_mb, peak_mb / (r.data_mb + sampler_mb),
               peak_mb / (r.floor_mb + sampler_mb), (peak_mb - sampler_mb) / r.floor_mb,
               failure.empty() ? "" : " failed: ", failure.c_str());
  std::fflush(out);
  return failure.empty() && depth == hbglm::bench::deepest_tree;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse_args(argc, argv);
  std::FILE* meta = o.csv ? stderr : stdout;
  if (!hbglm::backend_available(hbglm::backend_kind::cuda)) {
    std::fprintf(stderr, "CUDA backend unavailable: %s\n",
                 hbglm::backend_unavailable_reason(hbglm::backend_kind::cuda).c_str());
    return 77;
  }
  std::string device;
  const double bandwidth = bandwidth_of_device(&device);
  const device_memory_probe memory;
  peak_tracker tracker{&memory};
  std::fprintf(meta,
               "# hbglm_bench_grad_eval_cuda: election model, default priors, seed %llu\n"
               "# device %s; floor = n (8p + 8 + 4K) bytes at %.2f TB/s (%s); x_floor = "
               "cuda_ms / floor; GB/s = floor bytes / cuda time\n"
               "# cuda_ms, cpu_ms: median wall time per log density + gradient (CPU backend: one "
               "thread, %d reps); lf_ms: one CUDA leapfrog step (gradient + vector ops); "
               "lp_rel, grad_rel: |cuda - cpu| / max(1, |cpu|) (max over components)\n"
               "# data_MB: X, y, Z, Z^T as uploaded (8-byte values, 4-byte indices); dev_MB: peak "
               "device memory of the CUDA backend (cuMemGetInfo: free before make_backend minus "
               "least free after; %s); dev/floor = dev_MB / floor_MB\n",
               static_cast<unsigned long long>(o.seed), device.c_str(), bandwidth / 1e12,
               bandwidth == h200_bandwidth ? "H200" : "H100 SXM", o.cpu_reps,
               memory.available() ? "driver answered" : "driver API not found: nan");
  print_header(o);
  bool deep_ok = true;  // --deep-chains: every chain got to the deepest tree
  const auto start = clock_type::now();
  double last_setup_per_row = 0.0;
  try {
    for (std::size_t n : o.sizes) {
      for (hbglm::family fam : o.families) {
        result r;
        r.n = n;
        r.family = hbglm::to_string(fam);
        const double estimate = last_setup_per_row * static_cast<double>(n);
        if (seconds_since(start) + 1.5 * estimate > o.time_budget) {
          r.note = "skipped: time budget";
          print_row(r, o);
          continue;
        }
        const auto t0 = clock_type::now();
        hbglm::problem prob;
        {
          hbglm::election_options sim;
          sim.n_obs = n;
          sim.seed = o.seed;
          sim.response_family = fam;
          const hbglm::table data = hbglm::simulate_election(sim);
          hbglm::problem_spec spec;
          spec.formula = hbglm::election_formula;
          spec.family = r.family;
          prob = hbglm::make_problem(data, spec);
        }
        r.setup_s = seconds_since(t0);
        last_setup_per_row = r.setup_s / static_cast<double>(n);
        const hbglm::design& d = *prob.design_ptr;
        r.p = d.n_coefs();
        r.K = d.n_obs > 0 ? d.Z.n_nonzeros() / d.n_obs : 0;
        r.dim = prob.model_ptr->dim();
        const double floor_bytes = static_cast<double>(d.n_obs) *
                                   (8.0 * static_cast<double>(r.p) + 8.0 +
                                    4.0 * static_cast<double>(r.K));
        r.floor_mb = floor_bytes / 1e6;
        r.floor_us = floor_bytes / bandwidth * 1e6;
        // As cuda_model_data stores the design: every double array 8 bytes an element, the CSR
        // indices 4, Z and its transpose (the group-term descriptors, a few hundred bytes, are
        // left out).
        r.data_mb = (8.0 * static_cast<double>(d.X.size() + d.y.size() + d.trials.size() +
                                               d.se.size() + d.offset.size() +
                                               2 * d.Z.values.size()) +
                     4.0 * static_cast<double>(d.Z.row_ptr.size() + (d.n_u + 1) +
                                               2 * d.Z.col_idx.size())) /
                    1e6;
        const std::vector<double> q = fixed_q(r.dim, o.seed);

        std::vector<double> grad_cuda(r.dim), grad_cpu(r.dim);
        double lp_cuda = NAN, lp_cpu = NAN;
        try {
          tracker.start();
          auto b = hbglm::detail::make_backend(hbglm::backend_kind::cuda, prob.model_ptr);
          tracker.sample();
          auto qv = b->make_vector(), g = b->make_vector(), p = b->make_vector();
          b->copy_from_host(q.data(), *qv);
          lp_cuda = b->log_density_grad(*qv, *g);
          b->copy_to_host(*g, grad_cuda.data());
          tracker.sample();
          r.cuda_ms = 1e3 * time_median([&] { b->log_density_grad(*qv, *g); }, o.min_reps,
                                        o.min_seconds);
          tracker.sample();
          // Leapfrog steps of size 0 leave q where it is, so every step costs the same.
          b->draw_momentum(o.seed, 0, 0, *p);
          r.leapfrog_ms =
              1e3 * time_median([&] { b->leapfrog(0.0, *qv, *p, *g); }, o.min_reps, o.min_seconds);
          tracker.sample();
          r.device_peak_mb = tracker.peak() / 1e6;
        } catch (const hbglm::backend_error& e) {
          r.note = std::string("cuda: ") + e.what();
        }
        if (o.cpu_reps > 0 && n <= o.max_cpu_n) {
          auto b = hbglm::detail::make_backend(hbglm::backend_kind::cpu, prob.model_ptr);
          auto qv = b->make_vector(), g = b->make_vector();
          b->copy_from_host(q.data(), *qv);
          lp_cpu = b->log_density_grad(*qv, *g);
          b->copy_to_host(*g, grad_cpu.data());
          r.cpu_ms = 1e3 * time_median([&] { b->log_density_grad(*qv, *g); }, o.cpu_reps, 0.0);
          if (std::isfinite(lp_cuda)) {
            r.lp_rel = std::fabs(lp_cuda - lp_cpu) / std::max(1.0, std::fabs(lp_cpu));
            double worst = 0.0;
            for (std::size_t i = 0; i < r.dim; ++i) {
              worst = std::max(worst, std::fabs(grad_cuda[i] - grad_cpu[i]) /
                                          std::max(1.0, std::fabs(grad_cpu[i])));
            }
            r.grad_rel = worst;
          }
        }
        if (!std::isfinite(lp_cuda) && r.note.empty()) r.note = "cuda log density not finite";
        print_row(r, o);
        if (o.deep_chains > 0 && r.note.empty() &&
            !deep_chains_line(prob, r, o, tracker, meta)) {
          deep_ok = false;
        }
      }
    }
  } catch (const hbglm::error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::fprintf(meta, "# total %.1f s\n", seconds_since(start));
  return deep_ok ? 0 : 1;
}
