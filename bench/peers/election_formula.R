# The election model's formula (ARCHITECTURE §1), as hbglm::election_formula spells it; sourced
# by lme4_election.R and rstanarm_election.R so the peers fit one formula.
election_formula <- paste(
  "y ~ educ*nonwhite + inc*nonwhite + relig*nonwhite +",
  paste0("V", 1:40, collapse = " + "),
  "+ (1 | state) + (1 | respondent) + (1 | dem) + (1 | rep) + (0 + age | state)",
  "+ (0 + educ | state) + (0 + inc | state) + (0 + relig | state) + (0 + potus2016 | state)")
