#!/usr/bin/env python3
"""An MRP-shaped data set: a state-level predictor beside a varying intercept on state.

    python3 bench/mrp_data.py OUT.csv [--states 34] [--rows 34000] [--seed 4]

Columns y (gaussian), yb (bernoulli), x (the state's value, constant within a state), state
(s0, s1, ...), age (a respondent covariate). Rows cycle through the states (rows / states each).
Simulated: eta = 0.2 + 0.5 x_state + u_state + 0.3 age, u_state ~ N(0, 0.3), x_state ~ N(0, 1);
y = eta + N(0, 1), yb ~ Bernoulli(logit^-1(eta)). Fit with
`y ~ x + age + (1 | state)`: bench/README.md ("Absorbed coefficients", session 9) compares the
centered intercept that absorbs b_x (the default) with the non-centered form. Standard library
only; the same seed gives the same file.
"""

import argparse
import math
import random


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--states", type=int, default=34)
    parser.add_argument("--rows", type=int, default=34000)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    random.seed(args.seed)
    x_state = [random.gauss(0, 1) for _ in range(args.states)]
    u_state = [random.gauss(0, 0.3) for _ in range(args.states)]
    with open(args.out, "w") as f:
        f.write("y,yb,x,state,age\n")
        for i in range(args.rows):
            j = i % args.states
            age = random.gauss(0, 1)
            eta = 0.2 + 0.5 * x_state[j] + u_state[j] + 0.3 * age
            y = eta + random.gauss(0, 1)
            yb = 1 if random.random() < 1 / (1 + math.exp(-eta)) else 0
            f.write(f"{y:.5f},{yb},{x_state[j]:.5f},s{j},{age:.5f}\n")


if __name__ == "__main__":
    main()
