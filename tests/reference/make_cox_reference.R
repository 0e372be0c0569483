# Reference numbers for tests/test_cox.py, computed with R's survival package.
# Run from the repository root:  Rscript tests/reference/make_cox_reference.R
# (datasets: tests/reference/make_cox_data.py). Output: tests/reference/cox_reference.json and
# cox_tv_startstop.csv. The tests compare stored numbers; they never call R.
suppressMessages({library(survival); library(jsonlite)})
dir <- "tests/reference"

tied <- read.csv(file.path(dir, "cox_tied.csv"))
untied <- read.csv(file.path(dir, "cox_untied.csv"))
for (d in c("tied", "untied")) {
  x <- get(d); x$referral <- factor(x$referral, levels = c("self", "family", "gp")); assign(d, x)
}

summarise <- function(fit, newdata = NULL) {
  clustered <- !is.null(fit$naive.var)
  zph <- cox.zph(fit)
  out <- list(
    coef = as.list(coef(fit)),
    se = as.list(setNames(sqrt(diag(if (clustered) fit$naive.var else fit$var)), names(coef(fit)))),
    robust_se = if (clustered) as.list(setNames(sqrt(diag(fit$var)), names(coef(fit)))) else NULL,
    loglik = fit$loglik, n = fit$n, nevent = fit$nevent,
    concordance = unname(fit$concordance["concordance"]),
    concordance_counts = as.list(fit$concordance[c("concordant", "discordant", "tied.x", "tied.y")]),
    zph_table = data.frame(term = rownames(zph$table), zph$table, row.names = NULL),
    zph_time = unname(zph$time), zph_x = unname(zph$x),
    zph_y = as.data.frame(zph$y, row.names = NULL),
    survival_version = as.character(packageVersion("survival")), r_version = R.version.string
  )
  if (!is.null(newdata)) {
    sf <- survfit(fit, newdata = newdata)
    out$survfit <- list(time = sf$time, n_event = sf$n.event, surv = unname(as.data.frame(sf$surv)))
  }
  out
}

f1 <- coxph(Surv(duration, event == 1) ~ age + court_mandated + referral, data = tied,
            cluster = therapist_id, ties = "efron")
used <- tied[complete.cases(tied[, c("age", "court_mandated", "referral")]), ]
nd <- data.frame(age = mean(used$age), court_mandated = mean(used$court_mandated),
                 referral = factor(c("self", "family", "gp"), levels = levels(tied$referral)))
f2 <- coxph(Surv(duration, event == 1) ~ age + court_mandated + referral + strata(site), data = tied,
            cluster = therapist_id, ties = "efron")
f3 <- coxph(Surv(duration, event == 1) ~ age + court_mandated + referral, data = untied,
            cluster = therapist_id, ties = "efron")
f4 <- coxph(Surv(duration, event == 1) ~ age + court_mandated, data = tied, ties = "efron")

# Time-varying alliance: one row per attended session k, interval (k-1, k], carrying the last SRS
# observed at sessions 1..k-1 (last observation carried forward); the dropout on the last interval.
s <- read.csv(file.path(dir, "cox_tv_sessions.csv"))
e <- read.csv(file.path(dir, "cox_tv_episodes.csv"))
s <- s[s$status == "attended", ]
s <- s[order(s$client_id, s$date), ]
s$stop <- ave(seq_len(nrow(s)), s$client_id, FUN = seq_along)
s$start <- s$stop - 1
locf <- function(x) { idx <- cumsum(!is.na(x)); c(NA, x[!is.na(x)])[idx + 1] }
s$srs_locf <- ave(s$srs, s$client_id, FUN = locf)
s$srs_prev <- ave(s$srs_locf, s$client_id, FUN = function(v) c(NA, head(v, -1)))
s$last <- ave(s$stop, s$client_id, FUN = max) == s$stop
tv <- merge(s[, c("client_id", "start", "stop", "srs_prev", "last")],
            e[, c("client_id", "therapist_id", "court_mandated", "event")], by = "client_id")
tv$dropout <- as.integer(tv$last & tv$event == 1)
tv <- tv[order(tv$client_id, tv$start), ]
write.csv(tv[, c("client_id", "therapist_id", "start", "stop", "dropout", "srs_prev", "court_mandated")],
          file.path(dir, "cox_tv_startstop.csv"), row.names = FALSE)
f5 <- coxph(Surv(start, stop, dropout) ~ srs_prev + court_mandated, data = tv,
            cluster = therapist_id, ties = "efron")

ref <- list(tied_cluster = summarise(f1, nd), tied_strata = summarise(f2), untied_cluster = summarise(f3),
            tied_nocluster = summarise(f4), time_varying = summarise(f5))
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, null = "null"), file.path(dir, "cox_reference.json"))
