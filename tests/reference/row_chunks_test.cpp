// The CPU density's rows in chunks (glm_cpu_density, plan_row_chunks): how the rows are split,
// and that a split density gives the one-chunk density's value and gradient up to the order of
// its sums, and the same bits whatever the number of threads that share the chunks.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/glm_cpu_density.hpp"
#include "support/model_cases.hpp"
#include "support/model_fixtures.hpp"

namespace hbglm {
namespace {

using detail::glm_cpu_density;
using detail::plan_row_chunks;
using detail::row_chunk;

/// The ranges of u each of @p n_chunks near-equal chunks of rows touches, per term, worked out
/// from Z entry by entry, without the library's code.
std::vector<std::vector<std::pair<std::size_t, std::size_t>>> touched_ranges(
    const design& d, std::size_t n_chunks) {
  std::vector<std::vector<std::pair<std::size_t, std::size_t>>> out(n_chunks);
  for (std::size_t k = 0; k < n_chunks; ++k) {
    for (const random_block& term : d.terms) {
      const std::size_t term_end = term.u_offset + term.n_levels * term.n_coefs();
      std::size_t first = term_end, last = 0;
      for (std::size_t i = d.n_obs * k / n_chunks; i < d.n_obs * (k + 1) / n_chunks; ++i) {
        for (auto e = d.Z.row_ptr[i]; e < d.Z.row_ptr[i + 1]; ++e) {
          const auto col = static_cast<std::size_t>(d.Z.col_idx[static_cast<std::size_t>(e)]);
          if (col < term.u_offset || col >= term_end) continue;
          first = std::min(first, col);
          last = std::max(last, col + 1);
        }
      }
      if (first < last) out[k].emplace_back(first, last);
    }
  }
  return out;
}

std::size_t later_chunks_entries(
    const std::vector<std::vector<std::pair<std::size_t, std::size_t>>>& ranges) {
  std::size_t total = 0;
  for (std::size_t k = 1; k < ranges.size(); ++k) {
    for (const auto& [first, last] : ranges[k]) total += last - first;
  }
  return total;
}

void expect_contiguous_and_near_equal(const std::vector<row_chunk>& chunks, std::size_t n) {
  ASSERT_FALSE(chunks.empty());
  EXPECT_EQ(chunks.front().begin, 0u);
  EXPECT_EQ(chunks.back().end, n);
  for (std::size_t k = 0; k < chunks.size(); ++k) {
    if (k > 0) {
      EXPECT_EQ(chunks[k].begin, chunks[k - 1].end);
    }
    const std::size_t size = chunks[k].end - chunks[k].begin;
    EXPECT_LE(size, n / chunks.size() + 1);
    EXPECT_GE(size, n / chunks.size());
  }
}

TEST(RowChunks, PowersOfTwoOfContiguousChunksWithTheRangesOfUTheyTouch) {
  const table data = test::random_table(1000, 20, 7, 3);
  const auto m = test::make_model(data, "y_gaussian ~ x1 + (1 + x1 | g1) + (1 | g2)",
                                  family::gaussian);
  const design& d = m->data();
  // n / min_rows: 1, 2, 3, 10, 100 → chunks 1, 2, 2, 8, 16 (the cap).
  const std::vector<std::pair<std::size_t, std::size_t>> expected = {
      {1000, 1}, {400, 2}, {300, 2}, {100, 8}, {10, 16}, {1, 16}};
  for (const auto& [min_rows, n_chunks] : expected) {
    const auto chunks = plan_row_chunks(d, min_rows);
    ASSERT_EQ(chunks.size(), n_chunks) << "min rows " << min_rows;
    expect_contiguous_and_near_equal(chunks, d.n_obs);
    const auto ranges = touched_ranges(d, n_chunks);
    for (std::size_t k = 0; k < n_chunks; ++k) EXPECT_EQ(chunks[k].u_ranges, ranges[k]);
  }
  // The library's default: 1,000 rows are one chunk, as before chunks.
  EXPECT_EQ(plan_row_chunks(d).size(), 1u);
  EXPECT_EQ(plan_row_chunks(d).front().u_ranges.size(), 2u);
  // No more threads than chunks (and one where the build has no OpenMP).
  EXPECT_EQ(glm_cpu_density(m, 40, 100).threads(), detail::chunk_threads_available() ? 8 : 1);
  EXPECT_EQ(glm_cpu_density(m, 0, 100).threads(), 1);
}

TEST(RowChunks, HalvedWhileTheLaterChunksTouchMoreEntriesOfUThanThereAreRows) {
  // g1 has 1,000 levels over 2,000 rows: the first 1,000 rows in level order, the rest at
  // random, so chunks over the second half each touch almost all of g1's levels.
  const table data = test::random_table(2000, 1000, 5, 11);
  const auto m = test::make_model(data, "y_gaussian ~ x1 + (1 | g1) + (1 | g2)",
                                  family::gaussian);
  const design& d = m->data();
  const auto chunks = plan_row_chunks(d, 10);
  const std::size_t n_chunks = chunks.size();
  ASSERT_LT(n_chunks, 16u);
  ASSERT_GT(n_chunks, 1u);
  EXPECT_LE(later_chunks_entries(touched_ranges(d, n_chunks)), d.n_obs);
  EXPECT_GT(later_chunks_entries(touched_ranges(d, 2 * n_chunks)), d.n_obs);
  expect_contiguous_and_near_equal(chunks, d.n_obs);
  // The halved chunks' ranges are merged pairs of the finer ones: each as a count finds it.
  const auto ranges = touched_ranges(d, n_chunks);
  for (std::size_t k = 0; k < n_chunks; ++k) EXPECT_EQ(chunks[k].u_ranges, ranges[k]) << k;
}

TEST(RowChunks, AModelWithoutGroupLevelTermsIsSplitToo) {
  const table data = test::random_table(300, 5, 5, 1);
  const auto m = test::make_model(data, "y_bernoulli ~ x1 + x2", family::bernoulli);
  const auto chunks = plan_row_chunks(m->data(), 20);
  EXPECT_EQ(chunks.size(), 8u);
  for (const auto& c : chunks) EXPECT_TRUE(c.u_ranges.empty());
}

/// Checks one model: the density in up to 16 chunks (fewer where its rows touch many levels
/// each) on 1, 2, 3 and 5 threads gives the same bits every time, and the one-chunk
/// density's value and gradient up to rounding. Returns the number of chunks.
std::size_t check_chunked(const std::shared_ptr<const model>& m, std::uint64_t seed,
                          const std::string& label) {
  const glm_cpu_density whole(m);
  EXPECT_EQ(whole.n_chunks(), 1u) << label;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> init(-0.8, 0.8);
  std::vector<double> q(m->dim()), grad_whole(m->dim()), grad(m->dim()), grad_first(m->dim());
  for (double& v : q) v = init(rng);
  const double lp_whole = whole.log_density_grad(q.data(), grad_whole.data());
  EXPECT_TRUE(std::isfinite(lp_whole)) << label;
  double lp_first = 0.0;
  std::size_t n_chunks = 0;
  // Few threads: the tests run beside others on 2 cores, where waiting threads spin.
  for (const int threads : {1, 2, 3, 5}) {
    const glm_cpu_density split(m, threads, m->data().n_obs / 16);
    n_chunks = split.n_chunks();
    // Twice: the chunks' own Zᵀr are zeroed between evaluations.
    for (int repeat = 0; repeat < 2; ++repeat) {
      const double lp = split.log_density_grad(q.data(), grad.data());
      if (threads == 1 && repeat == 0) {
        lp_first = lp;
        grad_first = grad;
        // The same n terms summed in another association (16 partial sums, then their sum):
        // the two results differ by at most about 2 n ε Σ|term| (ε = 1.1e-16). For lp the terms
        // are O(1) log densities of one sign mostly, so Σ|term| ≈ |lp| and n ≤ 2,000 rows give
        // 4.4e-13 |lp| < 1e-12 |lp|. A gradient entry can cancel (σ's is (Σ z² - n) / σ, its
        // terms summing to about n while the result is O(√n)), so its bound is taken against
        // Σ|term| ≤ a few n: 2 · 2,000 · 1.1e-16 · (a few 2,000) ≈ 1e-12 < 1e-11 · max(1, |g|).
        // A wrong chunk (a row counted twice or left out) moves either by O(1).
        EXPECT_NEAR(lp, lp_whole, 1e-12 * std::max(1.0, std::fabs(lp_whole))) << label;
        for (std::size_t i = 0; i < grad.size(); ++i) {
          EXPECT_NEAR(grad[i], grad_whole[i], 1e-11 * std::max(1.0, std::fabs(grad_whole[i])))
              << label << ", coordinate " << i;
        }
      } else {
        EXPECT_EQ(lp, lp_first) << label << ", " << threads << " threads";
        EXPECT_EQ(grad, grad_first) << label << ", " << threads << " threads";
      }
    }
  }
  return n_chunks;
}

TEST(ChunkedDensity, SameBitsOnEveryNumberOfThreadsAndTheOneChunkValuesOnEveryModelKind) {
  // Enough rows for 16 chunks even of the nested term's 9 + 54 levels.
  const table data = test::random_table(2000, 9, 6, 5);
  std::size_t n_models = 0;
  std::uint64_t seed = 7;
  for (const auto& fc : test::family_cases()) {
    for (std::size_t r = 0; r < test::random_parts.size(); ++r) {
      const std::string& fixed = test::fixed_parts[r % test::fixed_parts.size()];
      const std::string formula = fc.response + " ~ " + fixed + " + " + test::random_parts[r];
      EXPECT_EQ(check_chunked(test::make_model(data, formula, fc.fam), seed++, formula), 16u)
          << formula;
      if (HasFailure()) return;
      ++n_models;
    }
  }
  EXPECT_EQ(n_models, test::family_cases().size() * test::random_parts.size());
}

TEST(ChunkedDensity, SameBitsOnEveryNumberOfThreadsForCenteredAndAbsorbingTerms) {
  std::uint64_t seed = 500;
  const table centered_data = test::centered_term_table();
  for (const test::model_case& c : test::centered_term_cases()) {
    EXPECT_GE(check_chunked(test::make_model(centered_data, c.formula, c.fam, {}, c.centered),
                            seed++, c.centered + ": " + c.formula),
              2u);
    if (HasFailure()) return;
  }
  const table absorbed_data = test::absorbed_slope_table();
  for (const test::model_case& c : test::absorbed_slope_cases()) {
    EXPECT_GE(check_chunked(test::make_model(absorbed_data, c.formula, c.fam, {}, c.centered),
                            seed++, c.centered + ": " + c.formula),
              2u);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace hbglm
