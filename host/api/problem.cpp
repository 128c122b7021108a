#include "hbglm/problem.hpp"

#include "hbglm/prior.hpp"

namespace hbglm {

problem make_problem(const table& data, const problem_spec& spec) {
  problem p;
  const family fam = parse_family(spec.family);
  std::vector<prior_spec> priors;
  priors.reserve(spec.priors.size());
  for (const auto& text : spec.priors) priors.push_back(parse_prior(text));
  p.parsed_formula = parse_formula(spec.formula);
  p.design_ptr = std::make_shared<const design>(build_design(data, p.parsed_formula, fam));
  p.model_ptr = std::make_shared<const model>(p.design_ptr, priors);
  p.n_table_rows = data.n_rows();
  return p;
}

problem load_problem(const problem_spec& spec) {
  // Parse the cheap things first so a typo in the formula or a prior is reported before a
  // large file is read.
  parse_family(spec.family);
  for (const auto& text : spec.priors) parse_prior(text);
  parse_formula(spec.formula);
  return make_problem(read_csv(spec.data_path), spec);
}

}  // namespace hbglm
