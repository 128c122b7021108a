/** @file libFuzzer target: table + formula -> build_design, as the CLI does it.
 *
 *  Input layout (readable, so that seeds are easy to write by hand):
 *    byte 0            family: '0' gaussian, '1' bernoulli, '2' binomial, '3' poisson (byte % 4)
 *    up to the first '\n'   the formula
 *    the rest          the CSV text
 *  Checks, for every design that is built: sizes of y, trials, se, offset, X, the random blocks
 *  and Z agree with n_obs, p and n_u; Z and transpose(Z) are well-formed CSR (row pointers from 0
 *  to nnz, columns in range and sorted in a row) and transpose(Z) holds the same entries as Z;
 *  level indices are in range; kept rows are increasing table rows; coefficient names are
 *  unique; binomial successes lie in [0, trials]. */

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "hbglm/design.hpp"
#include "hbglm/formula.hpp"
#include "hbglm/table.hpp"

namespace {

using hbglm::csr_matrix;
using hbglm::design;

void check_csr(const csr_matrix& m, const std::string& name) {
  HBGLM_FUZZ_CHECK(m.row_ptr.size() == m.n_rows + 1, name + ": row_ptr size");
  HBGLM_FUZZ_CHECK(m.col_idx.size() == m.values.size(), name + ": col_idx and values differ");
  HBGLM_FUZZ_CHECK(m.row_ptr.front() == 0, name + ": row_ptr[0] != 0");
  HBGLM_FUZZ_CHECK(static_cast<std::size_t>(m.row_ptr.back()) == m.values.size(),
                   name + ": row_ptr[n] != nnz");
  for (std::size_t r = 0; r < m.n_rows; ++r) {
    HBGLM_FUZZ_CHECK(m.row_ptr[r] <= m.row_ptr[r + 1], name + ": row_ptr decreases");
    for (std::int32_t e = m.row_ptr[r]; e < m.row_ptr[r + 1]; ++e) {
      const std::int32_t c = m.col_idx[static_cast<std::size_t>(e)];
      HBGLM_FUZZ_CHECK(c >= 0 && static_cast<std::size_t>(c) < m.n_cols,
                       name + ": column index out of range");
      if (e > m.row_ptr[r]) {
        HBGLM_FUZZ_CHECK(m.col_idx[static_cast<std::size_t>(e) - 1] < c,
                         name + ": columns not sorted within a row");
      }
    }
  }
}

/** transpose(Z) must be Z transposed: the same (row, col, value) triples with row and col swapped. */
void check_transpose(const csr_matrix& z, const csr_matrix& zt) {
  HBGLM_FUZZ_CHECK(zt.n_rows == z.n_cols && zt.n_cols == z.n_rows, "Zt shape");
  HBGLM_FUZZ_CHECK(zt.n_nonzeros() == z.n_nonzeros(), "Zt nnz != Z nnz");
  std::vector<std::int32_t> cursor(zt.row_ptr.begin(), zt.row_ptr.end() - 1);
  for (std::size_t r = 0; r < z.n_rows; ++r) {
    for (std::int32_t e = z.row_ptr[r]; e < z.row_ptr[r + 1]; ++e) {
      const auto c = static_cast<std::size_t>(z.col_idx[static_cast<std::size_t>(e)]);
      const auto slot = static_cast<std::size_t>(cursor[c]++);
      HBGLM_FUZZ_CHECK(slot < static_cast<std::size_t>(zt.row_ptr[c + 1]), "Zt row too short");
      HBGLM_FUZZ_CHECK(static_cast<std::size_t>(zt.col_idx[slot]) == r, "Zt entry misplaced");
      const double a = z.values[static_cast<std::size_t>(e)];
      const double b = zt.values[slot];
      HBGLM_FUZZ_CHECK(a == b || (std::isnan(a) && std::isnan(b)), "Zt value differs");
    }
  }
}

void check_design(const design& d, const hbglm::table& t, const hbglm::formula& f) {
  const std::size_t n = d.n_obs;
  const std::size_t p = d.n_coefs();
  HBGLM_FUZZ_CHECK(n >= 1, "a design with no observations");
  HBGLM_FUZZ_CHECK(n + d.n_dropped == t.n_rows(), "kept + dropped != table rows");
  HBGLM_FUZZ_CHECK(d.row_of_obs.size() == (d.n_dropped > 0 ? n : 0), "row_of_obs size");
  for (std::size_t i = 0; i < n; ++i) {
    HBGLM_FUZZ_CHECK(d.table_row(i) < t.n_rows(), "table_row out of range");
    if (i > 0) HBGLM_FUZZ_CHECK(d.table_row(i - 1) < d.table_row(i), "table_row not increasing");
  }
  HBGLM_FUZZ_CHECK(d.y.size() == n, "y size");
  HBGLM_FUZZ_CHECK(d.trials.size() == (d.family == hbglm::family::binomial ? n : 0), "trials size");
  HBGLM_FUZZ_CHECK(d.se.size() == (f.se.empty() ? 0 : n), "se size");
  HBGLM_FUZZ_CHECK(d.offset.size() == (f.offsets.empty() ? 0 : n), "offset size");
  HBGLM_FUZZ_CHECK(d.X.size() == n * p, "X size != n_obs * n_coefs");
  HBGLM_FUZZ_CHECK(d.column_means.size() == p, "column_means size");
  HBGLM_FUZZ_CHECK(!d.has_intercept || (p >= 1 && d.coef_names[0] == "Intercept"),
                   "intercept is not column 0");
  HBGLM_FUZZ_CHECK(std::set<std::string>(d.coef_names.begin(), d.coef_names.end()).size() == p,
                   "duplicate coefficient names");
  for (std::size_t i = 0; i < n; ++i) {
    HBGLM_FUZZ_CHECK(std::isfinite(d.y[i]), "non-finite response");
    if (d.family == hbglm::family::bernoulli) {
      HBGLM_FUZZ_CHECK(d.y[i] == 0.0 || d.y[i] == 1.0, "bernoulli y not 0/1");
    }
    if (d.family == hbglm::family::binomial) {
      HBGLM_FUZZ_CHECK(d.y[i] >= 0.0 && d.y[i] <= d.trials[i], "successes outside [0, trials]");
    }
    if (!d.se.empty()) HBGLM_FUZZ_CHECK(d.se[i] > 0.0, "se not positive");
  }

  std::size_t u = 0;
  std::size_t per_row = 0;
  for (const hbglm::random_block& b : d.terms) {
    const std::size_t k = b.n_coefs();
    HBGLM_FUZZ_CHECK(k >= 1, "random block without coefficients");
    HBGLM_FUZZ_CHECK(b.n_levels >= 2 && b.level_labels.size() == b.n_levels, "levels");
    HBGLM_FUZZ_CHECK(b.level_idx.size() == n, "level_idx size");
    HBGLM_FUZZ_CHECK(b.covariates.size() == n * k, "covariates size");
    HBGLM_FUZZ_CHECK(b.u_offset == u, "u_offset is not the running sum");
    for (std::int32_t l : b.level_idx) {
      HBGLM_FUZZ_CHECK(l >= 0 && static_cast<std::size_t>(l) < b.n_levels, "level out of range");
    }
    u += b.n_levels * k;
    per_row += k;
  }
  HBGLM_FUZZ_CHECK(u == d.n_u, "n_u != sum of J_t k_t");
  HBGLM_FUZZ_CHECK(d.Z.n_rows == n && d.Z.n_cols == d.n_u, "Z shape");
  HBGLM_FUZZ_CHECK(d.Z.n_nonzeros() == n * per_row, "Z nnz != n * sum k_t");
  check_csr(d.Z, "Z");
  const csr_matrix zt = hbglm::transpose(d.Z);
  check_csr(zt, "transpose(Z)");
  check_transpose(d.Z, zt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto fam = static_cast<hbglm::family>(data[0] % 4);
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t newline = rest.find('\n');
  if (newline == std::string::npos) return 0;
  const std::string formula_text = rest.substr(0, newline);
  const std::string csv_text = rest.substr(newline + 1);
  return hbglm::fuzz::run_one([&] {
    const hbglm::formula f = hbglm::parse_formula(formula_text);
    const hbglm::table t = hbglm::read_csv_text(csv_text, "fuzz.csv");
    const design d = hbglm::build_design(t, f, fam);
    check_design(d, t, f);
  });
}
