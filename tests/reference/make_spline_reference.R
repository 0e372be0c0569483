# Reference numbers for tests/analytics/models/test_splines.py, made once with R 4.2.2
# (survival 3.5.3, splines):   cd tests/reference && Rscript make_spline_reference.R
# From cox_tied.csv (make_cox_data.py) it writes spline_reference.json: the ns(age, df) basis
# (knots and the first rows), coxph(Surv(duration, event == 1) ~ ns(age, df = 3) + court_mandated,
# ties = "efron", cluster = therapist_id) and glm(event == 1 ~ ns(age, df = 4) + court_mandated,
# binomial) on the episodes with a known outcome: coefficients and (robust) standard errors, and
# termplot-style partial effects at a few ages against the median age.
suppressMessages({library(survival); library(splines); library(jsonlite)})
d <- read.csv("cox_tied.csv")
d <- d[!is.na(d$age), ]
b <- ns(d$age, df = 4)
cx <- coxph(Surv(duration, event == 1) ~ ns(age, df = 3) + court_mandated, data = d, ties = "efron",
            cluster = therapist_id)
known <- d[d$event %in% c(1, 2), ]
lg <- glm(I(event == 1) ~ ns(age, df = 4) + court_mandated, data = known, family = binomial)
ages <- c(10, 25, 40, 60)
effect <- function(fit, df, data, idx) {
  basis <- ns(data$age, df = df)
  contrast <- sweep(predict(basis, ages), 2, drop(predict(basis, median(data$age))))
  est <- drop(contrast %*% coef(fit)[idx])
  se <- sqrt(diag(contrast %*% vcov(fit)[idx, idx] %*% t(contrast)))
  list(value = ages, log_ratio = est, se = se)
}
out <- list(
  basis = list(knots = unname(attr(b, "knots")), boundary = attr(b, "Boundary.knots"), rows = unname(unclass(b)[1:20, ])),
  cox = list(coef = unname(coef(cx)), se = unname(sqrt(diag(cx$var))), effect = effect(cx, 3, d, 1:3)),
  logistic = list(coef = unname(coef(lg)), se = unname(sqrt(diag(vcov(lg)))), effect = effect(lg, 4, known, 2:5))
)
writeLines(toJSON(out, digits = NA, pretty = TRUE), "spline_reference.json")
