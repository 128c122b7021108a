#include "hbglm/problem.hpp"

#include <utility>

#include "hbglm/prior.hpp"

namespace hbglm {
namespace {

/// The shared part of make_problem: @p build makes the design from the parsed formula and family.
template <typename BuildDesign>
problem make_problem_with(std::size_t n_table_rows, const problem_spec& spec, BuildDesign build) {
  problem p;
  const family fam = parse_family(spec.family);
  std::vector<prior_spec> priors;
  priors.reserve(spec.priors.size());
  for (const auto& text : spec.priors) priors.push_back(parse_prior(text));
  const centering centered = parse_centering(spec.centered);
  p.parsed_formula = parse_formula(spec.formula);
  design built = build(p.parsed_formula, fam);
  release_term_rows(built);  // copies of what Z holds; nothing downstream reads them
  p.design_ptr = std::make_shared<const design>(std::move(built));
  p.model_ptr = std::make_shared<const model>(p.design_ptr, priors, centered);
  p.n_table_rows = n_table_rows;
  return p;
}

}  // namespace

problem make_problem(const table& data, const problem_spec& spec) {
  return make_problem_with(data.n_rows(), spec, [&](const formula& f, family fam) {
    return build_design(data, f, fam);
  });
}

problem make_problem(table&& data, const problem_spec& spec) {
  return make_problem_with(data.n_rows(), spec, [&](const formula& f, family fam) {
    return build_design(std::move(data), f, fam);
  });
}

problem load_problem(const problem_spec& spec) {
  // Parse the cheap things first so a typo in the formula or a prior is reported before a
  // large file is read.
  parse_family(spec.family);
  for (const auto& text : spec.priors) parse_prior(text);
  parse_centering(spec.centered);
  parse_formula(spec.formula);
  // The table is handed over, so that its columns are freed while the design is built: the
  // table and the design together would be the peak of the whole run (bench/memory.sh).
  return make_problem(read_csv(spec.data_path), spec);
}

}  // namespace hbglm
