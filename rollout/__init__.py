"""Progressive delivery: a canary of the 2.0 stack, judged by metric gates, promoted or rolled back."""
