# Reference numbers for tests/test_regression.py, computed from reg_data.csv.
# Run: cd tests/reference && Rscript reg_reference.R   (R 4.2, lme4 1.1-31, geepack 1.3.9; Debian bookworm)
suppressMessages({library(lme4); library(geepack); library(jsonlite)})
d <- read.csv("reg_data.csv", stringsAsFactors = FALSE)
d <- d[d$event %in% c(1, 2), ]                      # known outcomes only
d$dropout <- as.integer(d$event == 1)
d$referral <- relevel(factor(d$referral), ref = "self")
d$therapist_orientation <- relevel(factor(d$therapist_orientation), ref = "CBT")
d$therapist_id <- factor(d$therapist_id)
f <- dropout ~ age + referral + srs_mean + trauma_history + therapist_trainee + therapist_orientation
cc <- d[complete.cases(d[, all.vars(f)]), ]
cc <- cc[order(cc$therapist_id), ]

tidy <- function(est, se, p) data.frame(term = rownames(s), coef = unname(est), se = unname(se), p = unname(p))

m <- glm(f, family = binomial, data = cc)
s <- summary(m)$coefficients
write.csv(tidy(s[, 1], s[, 2], s[, 4]), "reg_logistic.csv", row.names = FALSE)
p <- fitted(m); y <- cc$dropout                     # AUC as the Mann-Whitney statistic
auc <- unname(wilcox.test(p[y == 1], p[y == 0], exact = FALSE)$statistic) / (sum(y) * sum(1 - y))
writeLines(toJSON(list(auc = auc, n = nrow(cc), events = sum(y)), auto_unbox = TRUE, digits = 12), "reg_logistic_auc.json")

g <- geeglm(f, family = binomial, id = therapist_id, corstr = "exchangeable", data = cc)
s <- summary(g)$coefficients
out <- tidy(s[, 1], s[, 2], s[, 4]); out$alpha <- g$geese$alpha
write.csv(out, "reg_gee.csv", row.names = FALSE)
gi <- geeglm(f, family = binomial, id = therapist_id, corstr = "independence", data = cc)
s <- summary(gi)$coefficients
write.csv(tidy(s[, 1], s[, 2], s[, 4]), "reg_gee_independence.csv", row.names = FALSE)

ri <- function(formula, nAGQ) {
  fit <- glmer(formula, family = binomial, data = cc, nAGQ = nAGQ)
  sd <- as.data.frame(VarCorr(fit))$sdcor[1]
  re <- ranef(fit, condVar = TRUE)$therapist_id   # before profiling: confint() alters the fitted object
  ci <- tryCatch(confint(fit, parm = "theta_", method = "profile", oldNames = FALSE),
                 error = function(e) matrix(NA, 1, 2))
  list(nAGQ = nAGQ, fixef = as.list(fixef(fit)), sd = sd, loglik = as.numeric(logLik(fit)),
       sd_ci = as.numeric(ci[1, ]), icc = sd^2 / (sd^2 + pi^2 / 3),
       ranef = setNames(as.list(re[, 1]), rownames(re)),
       ranef_sd = setNames(as.list(sqrt(attr(re, "postVar")[1, 1, ])), rownames(re)))
}
res <- list(null_laplace = ri(dropout ~ 1 + (1 | therapist_id), 1),
            null_agq15 = ri(dropout ~ 1 + (1 | therapist_id), 15),
            full_agq15 = ri(update(f, . ~ . + (1 | therapist_id)), 15),
            n_used = nrow(cc))
writeLines(toJSON(res, auto_unbox = TRUE, digits = 12, pretty = TRUE), "reg_glmer.json")

# The bundled sample caseload (sample_data/, therapist-judged definition): episodes as derived by
# analytics.episodes.derive_episodes, stored in reg_sample_episodes.csv (client_id, therapist_id, event).
s <- read.csv("reg_sample_episodes.csv", stringsAsFactors = FALSE)
s <- s[s$event %in% c(1, 2), ]
s$dropout <- as.integer(s$event == 1)
sample_fit <- function(nAGQ) {
  fit <- glmer(dropout ~ 1 + (1 | therapist_id), family = binomial, data = s, nAGQ = nAGQ)
  sd <- as.data.frame(VarCorr(fit))$sdcor[1]
  ci <- confint(fit, parm = "theta_", method = "profile", oldNames = FALSE)
  list(nAGQ = nAGQ, sd = sd, icc = sd^2 / (sd^2 + pi^2 / 3), sd_ci = as.numeric(ci[1, ]),
       intercept = unname(fixef(fit)[1]), loglik = as.numeric(logLik(fit)), n = nrow(s))
}
writeLines(toJSON(list(laplace = sample_fit(1), agq15 = sample_fit(15)), auto_unbox = TRUE, digits = 12, pretty = TRUE),
           "reg_sample_glmer.json")
