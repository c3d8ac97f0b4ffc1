"""Pre-registered hypothesis tests: the hypothesis file, its registration, the paired verdict (issue 16)."""
