# Reference numbers for tests/analytics/survival/test_entry_timefix.py, made once with R 4.2.2
# (survival 3.5.3):   cd tests/reference && Rscript make_entry_reference.R
# It writes
# - entry_days.csv: survival_days.csv with a delayed-entry time, whole-number case weights and a
#   copy of the duration with floating-point noise (days computed two ways: x / 7 * 7 and + 1e-12),
#   and R's Kaplan-Meier on it: entry_km_entry.csv (Surv(entry, duration, event == 1) ~ g),
#   entry_km_weights.csv (weights = w, robust = FALSE), entry_km_noisy.csv (noisy durations,
#   merged by R's timefix);
# - entry_cox.csv: cox_tied.csv with an entry time, the noisy duration and two strata columns whose
#   values contain ", " (so a joined label would merge strata) and case weights, and entry_cox.json:
#   coxph fits with delayed entry, on the noisy durations, stratified by both columns, with case
#   weights, and with weights, delayed entry and clustering together;
# - lung_status.csv: R's lung data (time, status 1 = censored / 2 = dead, age, sex), to check that
#   R's status coding is refused.
# The tests never call R.
suppressMessages({library(survival); library(jsonlite)})
set.seed(20261129)
d <- read.csv("survival_days.csv")
d$entry <- round(d$duration * runif(nrow(d), 0, 0.6), 1)
d$entry[d$entry >= d$duration] <- NA
d$entry[is.na(d$entry)] <- -1  # duration 0: entered just before
d$w <- sample(1:3, nrow(d), replace = TRUE)
d$duration_noisy <- ifelse(seq_len(nrow(d)) %% 3 == 0, d$duration / 7 * 7, d$duration + 1e-12 * d$duration)
write.csv(d, "entry_days.csv", row.names = FALSE)

km <- function(f, file) {
  g <- if (is.null(f$strata)) rep("all", length(f$time)) else sub("^g=", "", rep(names(f$strata), f$strata))
  write.csv(data.frame(group = g, time = f$time, at_risk = f$n.risk, events = f$n.event, censored = f$n.censor,
                       survival = f$surv, ci_lower = f$lower, ci_upper = f$upper), file, row.names = FALSE)
}
km(survfit(Surv(entry, duration, event == 1) ~ g, data = d, conf.type = "log-log"), "entry_km_entry.csv")
km(survfit(Surv(duration, event == 1) ~ g, data = d, weights = w, robust = FALSE, conf.type = "log-log"),
   "entry_km_weights.csv")
km(survfit(Surv(duration_noisy, event == 1) ~ g, data = d, conf.type = "log-log"), "entry_km_noisy.csv")

x <- read.csv("cox_tied.csv")
x$entry <- pmax(0, x$duration - 1 - rpois(nrow(x), 2))
x$entry[x$entry >= x$duration] <- x$duration[x$entry >= x$duration] - 0.5
x$duration_noisy <- ifelse(seq_len(nrow(x)) %% 2 == 0, x$duration / 3 * 3, x$duration * (1 + 1e-12))
x$s1 <- ifelse(x$court_mandated == 1, "p, q", "p")
x$s2 <- ifelse(x$court_mandated == 1, "r", "q, r")
x$w <- round(runif(nrow(x), 0.2, 3), 2)
write.csv(x, "entry_cox.csv", row.names = FALSE)
x$referral <- relevel(factor(x$referral), "self")
fits <- list(
  entry = coxph(Surv(entry, duration, event == 1) ~ age + court_mandated + referral, data = x, ties = "efron",
                cluster = therapist_id),
  noisy = coxph(Surv(duration_noisy, event == 1) ~ age + court_mandated + referral, data = x, ties = "efron"),
  # strata()'s default separator ", " would itself merge ("p, q", "r") with ("p", "q, r"): sep = "|"
  strata = coxph(Surv(duration, event == 1) ~ age + referral + strata(s1, s2, sep = "|"), data = x, ties = "efron"),
  weights = coxph(Surv(duration, event == 1) ~ age + court_mandated + referral, data = x, ties = "efron",
                  weights = w),
  weights_cluster = coxph(Surv(entry, duration, event == 1) ~ age + court_mandated + referral, data = x,
                          ties = "efron", weights = w, cluster = therapist_id)
)
# with non-whole weights coxph reports a robust variance by default; naive_se is the model-based one
out <- lapply(fits, function(f) list(coef = as.list(coef(f)), se = as.list(sqrt(diag(f$var))),
                                     naive_se = if (is.null(f$naive.var)) NULL else sqrt(diag(f$naive.var)),
                                     n = f$n, nevent = f$nevent, loglik = f$loglik))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "entry_cox.json")

write.csv(data.frame(duration = lung$time, event = lung$status, age = lung$age, sex = lung$sex),
          "lung_status.csv", row.names = FALSE)
