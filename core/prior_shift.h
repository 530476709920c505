#ifndef CLS_CORE_PRIOR_SHIFT_H_
#define CLS_CORE_PRIOR_SHIFT_H_

#include <span>
#include <vector>

#include "common/error.h"

namespace cls::core {

// Label-shift correction of a federated logistic model for one site
// (Saerens, Latinne, Decaestecker 2002). The federated model estimates
// P(y=1|x) under the federation's class balance; a site whose own balance
// differs (Switzerland: 93% positive, against 55% overall) gets the Bayes
// posterior under its own prior by moving the intercept by
// logit(site_rate) - logit(federation_rate). The weights, and so the ranking
// of patients (AUC), are unchanged. Both rates are aggregate counts the site
// already has (its own) or receives (the federation's, from the secure
// statistics round), so nothing more leaves the site.
//
// `parameters` is [w_0 .. w_{d-1}, bias]. Rates are clamped to
// [1e-3, 1 - 1e-3] so a site with a single class still gets a finite shift.
// InvalidArgument on an empty vector or a rate outside [0, 1].
Result<std::vector<float>> ShiftInterceptToSitePrior(
    std::span<const float> parameters, double site_positive_rate,
    double federation_positive_rate);

}  // namespace cls::core

#endif  // CLS_CORE_PRIOR_SHIFT_H_
