#!/usr/bin/env python3
"""Writes four synthetic heart-disease cohorts, used by `make demo` when the
real UCI data (../shared/data/heart-disease) is not present.

The generator, so results can be judged:
  * Columns are those of the UCI files: age,sex,cp,trestbps,chol,fbs,restecg,
    thalach,exang,oldpeak,slope,ca,thal,num.
  * Each patient has a latent disease indicator D ~ Bernoulli(prevalence of
    the site: 0.36, 0.46, 0.93, 0.75, as in the real four hospitals).
  * Features depend on D the way they do in the real data (older, more often
    male, asymptomatic chest pain cp=4, lower max heart rate thalach, exercise
    angina exang=1, higher oldpeak, more vessels ca, reversible defect thal=7),
    plus site-specific shifts (e.g. older patients at the third site).
  * Missing values follow the real sites: sites 2-4 mostly lack slope, ca and
    thal, and sites 3-4 record unknown cholesterol as 0.
  * num is 0 when D = 0, else 1..4.
Deterministic for a given --seed. No real patient is represented.
"""
import argparse
import os
import random

SITES = [
    # name, rows, prevalence, age shift, missing (slope, ca, thal), chol zero rate
    ("cleveland", 303, 0.46, 0.0, (0.0, 0.01, 0.01), 0.0),
    ("hungarian", 294, 0.36, -5.0, (0.65, 0.99, 0.90), 0.08),
    ("switzerland", 123, 0.93, 3.0, (0.15, 0.96, 0.42), 1.0),
    ("va", 200, 0.75, 6.0, (0.51, 0.99, 0.83), 0.28),
]


def patient(rng, prevalence, age_shift, missing, chol_zero):
    d = rng.random() < prevalence
    age = round(rng.gauss(56 if d else 51, 8) + age_shift)
    sex = 1 if rng.random() < (0.85 if d else 0.60) else 0
    cp = 4 if rng.random() < (0.75 if d else 0.25) else rng.choice([1, 2, 3])
    trestbps = round(rng.gauss(134 if d else 129, 17))
    chol = round(rng.gauss(250 if d else 240, 50))
    if rng.random() < chol_zero:
        chol = 0
    fbs = 1 if rng.random() < 0.15 else 0
    restecg = rng.choice([0, 0, 1, 2])
    thalach = round(rng.gauss(128 if d else 155, 20))
    exang = 1 if rng.random() < (0.55 if d else 0.15) else 0
    oldpeak = max(0.0, round(rng.gauss(1.6 if d else 0.5, 1.0), 1))
    slope = rng.choice([2, 2, 3]) if d else rng.choice([1, 1, 2])
    ca = min(3, max(0, round(rng.gauss(1.2 if d else 0.3, 0.8))))
    thal = 7 if rng.random() < (0.65 if d else 0.15) else rng.choice([3, 3, 6])
    num = rng.choice([1, 2, 3, 4]) if d else 0
    row = [age, sex, cp, trestbps, chol, fbs, restecg, thalach, exang, oldpeak,
           slope, ca, thal, num]
    for col, rate in zip((10, 11, 12), missing):
        if rng.random() < rate:
            row[col] = ""
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    header = "age,sex,cp,trestbps,chol,fbs,restecg,thalach,exang,oldpeak,slope,ca,thal,num"
    for name, rows, prevalence, age_shift, missing, chol_zero in SITES:
        with open(os.path.join(args.out, name + ".csv"), "w") as f:
            f.write(header + "\n")
            for _ in range(rows):
                f.write(",".join(str(v) for v in
                                 patient(rng, prevalence, age_shift, missing, chol_zero)) + "\n")


if __name__ == "__main__":
    main()
