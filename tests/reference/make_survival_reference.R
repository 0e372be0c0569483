# Reference numbers for tests/test_survival.py, made once with R (survival 3.5.3):
#   cd tests/reference && Rscript make_survival_reference.R
# It writes the three input datasets (survival_small.csv, survival_synthetic.csv, survival_days.csv)
# and, for each,
# R's Kaplan-Meier, medians, log-rank and Aalen-Johansen results as CSV. The tests never call R.
library(survival)

small <- data.frame(
  # hand-made, heavily tied: events at time 0, a group whose curve sits exactly at 0.5
  # (median by the midpoint rule) and a group whose curve falls to 0
  duration = c(0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4, 5, 5, 6, 6,  1, 2, 3, 4,  0, 2, 2, 2, 5),
  event    = c(1, 0, 1, 2, 0, 1, 1, 2, 0, 1, 0, 1, 1, 1, 1,  1, 1, 1, 0,  2, 1, 0, 2, 2),
  g        = c(rep("A", 15), rep("B", 4), rep("C", 5))
)
set.seed(20261127)
n <- 800
g <- sample(c("A", "B", "C", "D"), n, replace = TRUE, prob = c(.4, .3, .2, .1))
rate_drop <- c(A = .08, B = .12, C = .05, D = .10)[g]
t_drop <- rgeom(n, rate_drop)
t_done <- 6 + rgeom(n, .15)
t_cens <- rgeom(n, .03)
duration <- pmin(t_drop, t_done, t_cens)
event <- ifelse(duration == t_drop, 1, ifelse(duration == t_done, 2, 0))
synthetic <- data.frame(duration = duration, event = event, g = g)
set.seed(7)
m <- 300
# days in therapy: many distinct times, few ties (two groups only: no pairwise rows)
g2 <- sample(c("X", "Y"), m, replace = TRUE)
d_drop <- round(rexp(m, ifelse(g2 == "X", 1 / 150, 1 / 90)), 1)
d_done <- round(60 + rexp(m, 1 / 120), 1)
d_cens <- round(rexp(m, 1 / 400), 1)
days <- data.frame(duration = pmin(d_drop, d_done, d_cens),
                   event = ifelse(d_drop <= pmin(d_done, d_cens), 1, ifelse(d_done <= d_cens, 2, 0)),
                   g = g2)
write.csv(small, "survival_small.csv", row.names = FALSE)
write.csv(synthetic, "survival_synthetic.csv", row.names = FALSE)
write.csv(days, "survival_days.csv", row.names = FALSE)

strip <- function(f, k) {
  if (is.null(f$strata)) rep("all", k) else sub("^g=", "", rep(names(f$strata), f$strata))
}

reference <- function(d, name) {
  for (grouped in c(FALSE, TRUE)) {
    suffix <- if (grouped) "by_g" else "all"
    form <- if (grouped) Surv(duration, event == 1) ~ g else Surv(duration, event == 1) ~ 1
    f <- survfit(form, data = d, conf.type = "log-log")
    km <- data.frame(group = strip(f, length(f$time)), time = f$time, at_risk = f$n.risk,
                     events = f$n.event, censored = f$n.censor, survival = f$surv,
                     ci_lower = f$lower, ci_upper = f$upper)
    write.csv(km, sprintf("%s_km_%s.csv", name, suffix), row.names = FALSE)
    tab <- summary(f)$table
    if (!grouped) tab <- t(as.matrix(tab))
    med <- data.frame(group = if (grouped) sub("^g=", "", rownames(tab)) else "all",
                      n = tab[, "records"], events = tab[, "events"], median = tab[, "median"],
                      ci_lower = tab[, "0.95LCL"], ci_upper = tab[, "0.95UCL"])
    write.csv(med, sprintf("%s_medians_%s.csv", name, suffix), row.names = FALSE)

    ms <- if (grouped) Surv(duration, factor(event, 0:2, c("censor", "dropout", "completed"))) ~ g
          else Surv(duration, factor(event, 0:2, c("censor", "dropout", "completed"))) ~ 1
    a <- survfit(ms, data = d)
    stopifnot(identical(a$states, c("(s0)", "dropout", "completed")), a$conf.type == "log")
    cif <- data.frame(group = strip(a, length(a$time)), time = a$time,
                      cif_dropout = a$pstate[, 2], cif_dropout_lower = a$lower[, 2],
                      cif_dropout_upper = a$upper[, 2], cif_completed = a$pstate[, 3],
                      cif_completed_lower = a$lower[, 3], cif_completed_upper = a$upper[, 3],
                      se_dropout = a$std.err[, 2], se_completed = a$std.err[, 3])
    write.csv(cif, sprintf("%s_cif_%s.csv", name, suffix), row.names = FALSE)
  }
  overall <- survdiff(Surv(duration, event == 1) ~ g, data = d)
  groups <- sort(unique(d$g))
  pairs <- combn(groups, 2)
  if (length(groups) == 2) pairs <- pairs[, 0, drop = FALSE]
  stat <- p <- numeric(ncol(pairs))
  for (i in seq_len(ncol(pairs))) {
    s <- survdiff(Surv(duration, event == 1) ~ g, data = d[d$g %in% pairs[, i], ])
    stat[i] <- s$chisq
    p[i] <- s$pvalue
  }
  labels <- if (ncol(pairs) > 0) paste(pairs[1, ], "vs", pairs[2, ]) else character(0)
  lr <- data.frame(comparison = c("overall", labels),
                   statistic = c(overall$chisq, stat),
                   df = c(length(groups) - 1, rep(1, ncol(pairs))),
                   p = c(overall$pvalue, p),
                   p_adjusted = c(overall$pvalue, p.adjust(p, "holm")))
  write.csv(lr, sprintf("%s_logrank.csv", name), row.names = FALSE)
}

reference(small, "survival_small")
reference(synthetic, "survival_synthetic")
reference(days, "survival_days")
