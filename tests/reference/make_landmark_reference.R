# Reference numbers for tests/analytics/survival/test_landmark.py, made once with R (survival):
#   cd tests/reference && Rscript make_landmark_reference.R
# landmark_episodes.csv holds episodes of a synthetic caseload (analytics.synth.generate_caseload
# n_clients=700, n_therapists=10, seed=14; default episode settings) with what was known at session 3
# (missed appointments and the mean SRS up to it, NA where the client never reached it), as
# analytics.survival.landmark.measures_at gives them. R takes the landmark subset itself: clients
# still in therapy after session 3 (duration > 3), time from session 3 on, dropout (event 1) as the event.
library(survival)
k <- 3
d <- read.csv("landmark_episodes.csv")
lm <- subset(d, duration > k)
lm$time <- lm$duration - k
groups <- list(
  missed = ifelse(lm$missed >= 1, "missed at least one", "no missed appointment"),
  srs_mean = ifelse(lm$srs_mean < 36, "below 36", "36 or more")
)
rows <- list()
tests <- list()
for (name in names(groups)) {
  lm$group <- groups[[name]]
  fit <- survfit(Surv(time, event == 1) ~ group, data = lm, conf.type = "log-log")
  s <- summary(fit, censored = TRUE)
  rows[[name]] <- data.frame(measure = name, group = sub("group=", "", as.character(s$strata)), time = s$time,
                             n_risk = s$n.risk, n_event = s$n.event, survival = s$surv, lower = s$lower,
                             upper = s$upper)
  test <- survdiff(Surv(time, event == 1) ~ group, data = lm)
  tests[[name]] <- data.frame(measure = name, n = sum(!is.na(lm$group)), chisq = test$chisq,
                              p = pchisq(test$chisq, length(test$n) - 1, lower.tail = FALSE))
}
write.csv(do.call(rbind, rows), "landmark_km.csv", row.names = FALSE)
write.csv(do.call(rbind, tests), "landmark_logrank.csv", row.names = FALSE)
