# Reference p-values for analytics/practice/periods.py: the two-proportion test without continuity
# correction on the counts of tests/analytics/practice/test_periods.py (this period vs an earlier one).
# Run: Rscript tests/reference/periods_reference.R > tests/reference/periods_prop_test.csv
pairs <- data.frame(
  comparison = c("June 2024 vs May 2024", "June 2024 vs June 2023", "Q2 2024 vs Q1 2024", "Q2 2024 vs Q2 2023"),
  dropouts_this = c(30, 30, 52, 52), known_this = c(60, 60, 160, 160),
  dropouts_other = c(10, 15, 20, 20), known_other = c(60, 50, 100, 80)
)
pairs$p <- mapply(function(a, n, b, m) prop.test(c(a, b), c(n, m), correct = FALSE)$p.value,
                  pairs$dropouts_this, pairs$known_this, pairs$dropouts_other, pairs$known_other)
write.csv(pairs, stdout(), row.names = FALSE)
