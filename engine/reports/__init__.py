"""`careloop report`: outcome reports over the analytics views (revisit, follow-up, funnel, experiment,
satisfaction, cohorts) and the statistics of experiments. Needs the `reports` extra (statsmodels, scipy,
matplotlib). Every query reads the `analytics` schema only, so it runs under an analyst's login."""
