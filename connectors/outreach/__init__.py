"""The loop back from outreach: gateways' delivery receipts, patients' replies and questionnaire answers, and the
care team's pause/resume and consent changes, as events on the clinical topic (an HTTP webhook and a CLI).

parse (payloads) -> pure mapping (mapping) -> publish (intake); http serves it as `careloop webhook`.
"""
