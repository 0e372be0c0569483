# Reference numbers for tests/analytics/survival/test_rmst.py and test_fine_gray.py, made once with
# R 4.2.2 (survival 3.5.3, cmprsk 2.2.11):   cd tests/reference && Rscript make_competing_reference.R
# It writes
# - <data>_rmst_{all,by_g}.csv: restricted mean time to dropout, summary(survfit(...), rmean = tau),
#   for the three data sets of make_survival_reference.R (read, not regenerated);
# - finegray_synthetic.csv (a tied, session-scale data set with a numeric, a 0/1 and a three-level
#   covariate and 25 therapists) and finegray_mgus2.csv (survival's mgus2: progression as event 1,
#   death before progression as the competing event 2, complete cases of age, sex, hgb);
# - finegray_<data>_crr.csv: cmprsk::crr coefficients and standard errors (dropout = 1 against
#   completion = 2, censored = 0);
# - finegray_<data>_coxph_cluster.csv: survival::finegray + coxph(..., cluster = therapist_id)
#   (weighted Cox on the expanded data; its robust variance leaves out the part from estimating the
#   censoring distribution, so it is a check of size, not an equality);
# - report_sample_rmst.csv and report_sample_crr.csv: the same on the report bundle's episodes of
#   the bundled sample data (report_sample_episodes.csv, written by make_report_episodes.py).
# The tests never call R.
library(survival)
library(cmprsk)

rmst <- function(name, tau) {
  d <- read.csv(sprintf("%s.csv", name))
  for (grouped in c(FALSE, TRUE)) {
    form <- if (grouped) Surv(duration, event == 1) ~ g else Surv(duration, event == 1) ~ 1
    tab <- summary(survfit(form, data = d), rmean = tau)$table
    if (!grouped) tab <- t(as.matrix(tab))
    out <- data.frame(group = if (grouped) sub("^g=", "", rownames(tab)) else "all", tau = tau,
                      rmst = tab[, "rmean"], se = tab[, "se(rmean)"])
    write.csv(out, sprintf("%s_rmst_%s.csv", name, if (grouped) "by_g" else "all"), row.names = FALSE)
  }
}
rmst("survival_small", 4)
rmst("survival_synthetic", 20)
rmst("survival_days", 200)  # Y ends at 199.5: its curve is carried on flat to 200

set.seed(20261129)
n <- 600
therapist <- sprintf("T%02d", sample(1:25, n, replace = TRUE))
u <- rnorm(25, 0, 0.4)[as.integer(sub("T", "", therapist))]
x <- round(rnorm(n, 30, 5), 1)
m <- rbinom(n, 1, 0.35)
g <- sample(c("a", "b", "c"), n, replace = TRUE, prob = c(.5, .3, .2))
lp <- -0.05 * (x - 30) + 0.5 * m + c(a = 0, b = 0.3, c = -0.4)[g] + u
t_drop <- rgeom(n, pmin(0.9, 0.07 * exp(lp)))
t_done <- 4 + rgeom(n, 0.12)
t_cens <- rgeom(n, 0.02)
duration <- pmin(t_drop, t_done, t_cens)
event <- ifelse(duration == t_drop, 1, ifelse(duration == t_done, 2, 0))
synthetic <- data.frame(duration, event, x, m, g, therapist_id = therapist)
write.csv(synthetic, "finegray_synthetic.csv", row.names = FALSE)

mg <- mgus2[complete.cases(mgus2[, c("age", "sex", "hgb")]), ]
mg <- data.frame(duration = ifelse(mg$pstat == 1, mg$ptime, mg$futime),
                 event = ifelse(mg$pstat == 1, 1, 2 * mg$death), age = mg$age, sex = as.character(mg$sex),
                 hgb = mg$hgb, therapist_id = sprintf("C%02d", (seq_len(nrow(mg)) %% 40) + 1))
write.csv(mg, "finegray_mgus2.csv", row.names = FALSE)

finegray_reference <- function(d, name, formula) {
  X <- model.matrix(formula, d)[, -1, drop = FALSE]
  fit <- crr(d$duration, d$event, cov1 = X, failcode = 1, cencode = 0, gtol = 1e-10, maxiter = 100)
  write.csv(data.frame(term = colnames(X), coef = unname(fit$coef), se = sqrt(diag(fit$var))),
            sprintf("finegray_%s_crr.csv", name), row.names = FALSE)
  d$status <- factor(d$event, 0:2, c("censor", "dropout", "completed"))
  d$row <- seq_len(nrow(d))
  fg <- finegray(Surv(duration, status) ~ ., data = d, etype = "dropout")
  cx <- coxph(update(formula, Surv(fgstart, fgstop, fgstatus) ~ .), data = fg, weights = fgwt,
              cluster = therapist_id, ties = "breslow")
  write.csv(data.frame(term = colnames(X), coef = unname(coef(cx)), robust_se = sqrt(diag(cx$var))),
            sprintf("finegray_%s_coxph_cluster.csv", name), row.names = FALSE)
}
synthetic$g <- relevel(factor(synthetic$g), "a")
finegray_reference(synthetic, "synthetic", ~ x + m + g)
mg$sex <- relevel(factor(mg$sex), "F")
finegray_reference(mg, "mgus2", ~ age + sex + hgb)

# The report bundle's episodes of the bundled sample data (make_report_episodes.py), recipe
# {"rmst_tau": 20, "km_group": "court_mandated", "covariates": [age, court_mandated, env_privacy],
# "cluster": null}: rmst by court_mandated (no/yes) and crr on complete cases.
ep <- read.csv("report_sample_episodes.csv")
tab <- summary(survfit(Surv(duration, event == 1) ~ court_mandated, data = ep), rmean = 20)$table
write.csv(data.frame(group = c("no", "yes"), tau = 20, rmst = tab[, "rmean"], se = tab[, "se(rmean)"]),
          "report_sample_rmst.csv", row.names = FALSE)
cc <- ep[complete.cases(ep[, c("age", "court_mandated", "env_privacy")]), ]
fit <- crr(cc$duration, cc$event, cov1 = as.matrix(cc[, c("age", "court_mandated", "env_privacy")]),
           failcode = 1, cencode = 0, gtol = 1e-10, maxiter = 100)
write.csv(data.frame(term = names(fit$coef), coef = unname(fit$coef), se = sqrt(diag(fit$var))),
          "report_sample_crr.csv", row.names = FALSE)
