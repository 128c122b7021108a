// The fused likelihood kernel against the CPU's per-observation loop (the same glm_family.cuh
// functions), for every family at sizes around warp and block boundaries.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/glm_family.cuh"
#include "support/cuda_skip.hpp"

#if HBGLM_HAVE_CUDA
#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.hpp"
#include "kernels/common.cuh"
#include "kernels/glm_logp_grad.cuh"
#endif

namespace hbglm {
namespace {

using kernels::glm_family_id;

#if HBGLM_HAVE_CUDA
/// A device copy of a host vector, freed on scope exit.
class device_buffer {
 public:
  explicit device_buffer(std::size_t n) : n_(n) {
    HBGLM_CUDA_CHECK(cudaMalloc(&ptr_, (n == 0 ? 1 : n) * sizeof(double)));
  }
  explicit device_buffer(const std::vector<double>& host) : device_buffer(host.size()) {
    HBGLM_CUDA_CHECK(
        cudaMemcpy(ptr_, host.data(), host.size() * sizeof(double), cudaMemcpyHostToDevice));
  }
  ~device_buffer() { cudaFree(ptr_); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  double* get() const { return ptr_; }
  std::vector<double> to_host() const {
    std::vector<double> out(n_);
    HBGLM_CUDA_CHECK(cudaMemcpy(out.data(), ptr_, n_ * sizeof(double), cudaMemcpyDeviceToHost));
    return out;
  }

 private:
  double* ptr_ = nullptr;
  std::size_t n_;
};
#endif

TEST(GlmLikelihoodCuda, MatchesCpuForEveryFamilyAndSize) {
  HBGLM_SKIP_WITHOUT_CUDA_DEVICE();
#if HBGLM_HAVE_CUDA
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  for (glm_family_id family : {glm_family_id::gaussian_identity, glm_family_id::bernoulli_logit,
                               glm_family_id::binomial_logit, glm_family_id::poisson_log}) {
    for (std::size_t n : {std::size_t{1}, std::size_t{31}, std::size_t{1017},
                          std::size_t{100017}}) {
      std::vector<double> y(n), eta(n), trials(n, 0.0);
      for (std::size_t i = 0; i < n; ++i) {
        eta[i] = normal(rng);
        trials[i] = 1 + static_cast<double>(i % 7);
        y[i] = family == glm_family_id::gaussian_identity ? normal(rng)
               : family == glm_family_id::binomial_logit  ? static_cast<double>(i % 3)
               : family == glm_family_id::bernoulli_logit ? static_cast<double>(i % 2)
                                                           : static_cast<double>(i % 5);
      }
      const double sigma = 1.3;
      std::vector<double> r_cpu(n);
      double lp_cpu = 0.0, sq_cpu = 0.0, magnitude = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        const auto t = kernels::glm_observation(family, y[i], eta[i], trials[i], 1.0 / sigma);
        r_cpu[i] = t.d_eta;
        lp_cpu += t.log_lik;
        sq_cpu += t.sq_residual;
        magnitude += std::fabs(t.log_lik);
      }
      device_buffer d_y(y), d_eta(eta), d_trials(trials), d_r(n),
          d_partials(2 * static_cast<std::size_t>(kernels::grid_size_for(n))), d_sums(2);
      kernels::glm_likelihood_args args;
      args.family = family;
      args.n = n;
      args.y = d_y.get();
      args.eta = d_eta.get();
      args.trials = family == glm_family_id::binomial_logit ? d_trials.get() : nullptr;
      args.sigma = sigma;
      args.r = d_r.get();
      args.block_partials = d_partials.get();
      args.sums = d_sums.get();
      kernels::launch_glm_likelihood(args, nullptr);
      HBGLM_CUDA_CHECK(cudaDeviceSynchronize());
      const std::vector<double> sums = d_sums.to_host(), r_gpu = d_r.to_host();
      // Summation orders differ: compare against the magnitude of the summed terms.
      EXPECT_NEAR(sums[0], lp_cpu, 1e-10 * (magnitude + 1.0)) << "family "
                                                               << static_cast<int>(family)
                                                               << " n " << n;
      EXPECT_NEAR(sums[1], sq_cpu, 1e-10 * (sq_cpu + 1.0));
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_NEAR(r_gpu[i], r_cpu[i], 1e-12 * (std::fabs(r_cpu[i]) + 1.0)) << "i " << i;
      }
      // Determinism: a second launch gives the same bits.
      kernels::launch_glm_likelihood(args, nullptr);
      HBGLM_CUDA_CHECK(cudaDeviceSynchronize());
      const std::vector<double> again = d_sums.to_host();
      EXPECT_EQ(again[0], sums[0]);
      EXPECT_EQ(again[1], sums[1]);
    }
  }
#endif
}

}  // namespace
}  // namespace hbglm
