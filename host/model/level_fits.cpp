#include "model/level_fits.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>

namespace hbglm::detail {

std::size_t first_entry_in_row(const design& d, std::size_t t) {
  std::size_t first_entry = 0;
  for (std::size_t s = 0; s < t; ++s) first_entry += d.terms[s].n_coefs();
  return first_entry;
}

level_fits fit_levels(const design& d, std::size_t t, const double* response,
                      const double* weight) {
  const random_block& block = d.terms[t];
  const std::size_t k = block.n_coefs(), n_levels = block.n_levels;
  const std::size_t first_entry = first_entry_in_row(d, t);
  level_fits f;
  f.k = k;
  f.gram.assign(n_levels * k * k, 0.0);
  f.cross.assign(n_levels * k, 0.0);
  std::vector<double> rr(n_levels, 0.0);
  std::vector<std::size_t> rows(n_levels, 0);
  for (std::size_t i = 0; i < d.n_obs; ++i) {
    const auto e0 = static_cast<std::size_t>(d.Z.row_ptr[i]) + first_entry;
    const std::size_t j = (static_cast<std::size_t>(d.Z.col_idx[e0]) - block.u_offset) / k;
    const double w = weight ? weight[i] : 1.0, r = response[i];
    double* g = f.gram.data() + j * k * k;
    for (std::size_t a = 0; a < k; ++a) {
      const double za = d.Z.values[e0 + a];
      f.cross[j * k + a] += w * za * r;
      for (std::size_t b = 0; b < k; ++b) g[a * k + b] += w * za * d.Z.values[e0 + b];
    }
    rr[j] += w * r * r;
    ++rows[j];
  }
  f.determined.assign(n_levels, false);
  f.estimate.assign(n_levels * k, 0.0);
  f.inverse_diagonal.assign(n_levels * k, 0.0);
  const auto ek = static_cast<Eigen::Index>(k);
  for (std::size_t j = 0; j < n_levels; ++j) {
    if (rows[j] <= k) continue;
    Eigen::MatrixXd g = Eigen::Map<const Eigen::MatrixXd>(f.gram.data() + j * k * k, ek, ek);
    g.diagonal().array() += 1e-9 * std::max(g.trace() / static_cast<double>(k), 1e-300);
    const Eigen::LDLT<Eigen::MatrixXd> ldlt(g);
    if (ldlt.info() != Eigen::Success) continue;
    const Eigen::Map<const Eigen::VectorXd> b(f.cross.data() + j * k, ek);
    const Eigen::VectorXd beta = ldlt.solve(b);
    const Eigen::VectorXd inverse = ldlt.solve(Eigen::MatrixXd::Identity(ek, ek)).diagonal();
    if (!beta.allFinite() || !inverse.allFinite()) continue;
    Eigen::Map<Eigen::VectorXd>(f.estimate.data() + j * k, ek) = beta;
    Eigen::Map<Eigen::VectorXd>(f.inverse_diagonal.data() + j * k, ek) = inverse;
    f.determined[j] = true;
    f.rss += std::max(0.0, rr[j] - beta.dot(b));
    f.dof += static_cast<double>(rows[j] - k);
    ++f.n_determined;
  }
  return f;
}

}  // namespace hbglm::detail
