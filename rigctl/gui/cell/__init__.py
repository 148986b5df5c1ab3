"""The Cell tab: test pulse, EPSP search, set-up clock and slice log before the baseline."""
