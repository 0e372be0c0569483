# Reference numbers for tests/analytics/models/test_imputation.py, made once with R 4.2.2
# (survival 3.5.3, mice 3.15.0):   cd tests/reference && Rscript make_imputation_reference.R
# It fits each completed data set of imputed_sets.csv (make_imputation_data.py) with
# coxph(Surv(duration, event == 1) ~ age + court_mandated + referral, ties = "efron",
# cluster = therapist_id) and glm(event == 1 ~ ..., binomial) on the episodes with a known outcome,
# pools them with mice::pool (Rubin's rules, Barnard-Rubin df) and writes imputed_pool_cox.csv and
# imputed_pool_logistic.csv (term, estimate, std.error, df, p.value, fmi).
suppressMessages({library(survival); library(mice)})
d <- read.csv("imputed_sets.csv", check.names = FALSE)
d$referral <- relevel(factor(d$referral), "self")
sets <- split(d, d[[".imp"]])
cox <- lapply(sets, function(s) coxph(Surv(duration, event == 1) ~ age + court_mandated + referral, data = s,
                                      ties = "efron", cluster = therapist_id))
logistic <- lapply(sets, function(s) glm(I(event == 1) ~ age + court_mandated + referral,
                                         data = s[s$event %in% c(1, 2), ], family = binomial))
out <- function(fits, file) {
  p <- summary(pool(as.mira(fits)))
  fmi <- pool(as.mira(fits))$pooled$fmi
  write.csv(data.frame(term = as.character(p$term), estimate = p$estimate, std.error = p$std.error, df = p$df,
                       p.value = p$p.value, fmi = fmi), file, row.names = FALSE)
}
out(cox, "imputed_pool_cox.csv")
out(logistic, "imputed_pool_logistic.csv")
