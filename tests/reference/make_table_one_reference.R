# Reference numbers for tests/analytics/models/test_table_one.py, made once with base R 4.2.2
# (tableone is not installed; its definitions are written out):
#   cd tests/reference && Rscript make_table_one_reference.R
# From table_one_episodes.csv (make_report_episodes.py) it writes table_one_numbers.csv (per
# number and site: n, mean, sd, median, quartiles by quantile(type = 7), missing), table_one_levels.csv
# (per category level and site: n and percent of those with a value) and table_one_smd.csv (the
# Yang & Dalton SMD averaged over the pairs of sites, as tableone's print(smd = TRUE)).
d <- read.csv("table_one_episodes.csv", stringsAsFactors = FALSE)
d$court_mandated <- ifelse(d$court_mandated == 1, "yes", "no")
numbers <- c("age", "env_privacy", "srs_first")
categories <- c("court_mandated", "referral")
sites <- sort(unique(d$site))
parts <- c(list(overall = d), split(d, d$site))
num <- do.call(rbind, lapply(numbers, function(v) do.call(rbind, lapply(names(parts), function(g) {
  x <- parts[[g]][[v]]; k <- x[!is.na(x)]; q <- quantile(k, c(.25, .5, .75), type = 7)
  data.frame(variable = v, group = g, n = length(k), mean = mean(k), sd = sd(k), median = q[[2]], q1 = q[[1]],
             q3 = q[[3]], missing = sum(is.na(x)))
}))))
write.csv(num, "table_one_numbers.csv", row.names = FALSE)
lev <- do.call(rbind, lapply(categories, function(v) do.call(rbind, lapply(names(parts), function(g) {
  x <- parts[[g]][[v]]; k <- x[!is.na(x)]; levels <- sort(unique(d[[v]][!is.na(d[[v]])]))
  data.frame(variable = v, level = levels, group = g, n = sapply(levels, function(l) sum(k == l)),
             percent = 100 * sapply(levels, function(l) mean(k == l)))
}))))
write.csv(lev, "table_one_levels.csv", row.names = FALSE)
smd_pair <- function(a, b, categorical) {
  a <- a[!is.na(a)]; b <- b[!is.na(b)]
  if (!categorical) return(abs(mean(a) - mean(b)) / sqrt((var(a) + var(b)) / 2))
  levels <- sort(unique(c(a, b)))[-1]
  p1 <- sapply(levels, function(l) mean(a == l)); p2 <- sapply(levels, function(l) mean(b == l))
  cov_of <- function(p) if (length(p) == 1) matrix(p * (1 - p)) else diag(p) - outer(p, p)
  S <- (cov_of(p1) + cov_of(p2)) / 2
  sqrt(drop(t(p1 - p2) %*% solve(S) %*% (p1 - p2)))
}
pairs <- combn(sites, 2, simplify = FALSE)
smd <- data.frame(variable = c(numbers, categories), smd = sapply(c(numbers, categories), function(v) {
  mean(sapply(pairs, function(p) smd_pair(d[[v]][d$site == p[1]], d[[v]][d$site == p[2]], v %in% categories)))
}))
write.csv(smd, "table_one_smd.csv", row.names = FALSE)
