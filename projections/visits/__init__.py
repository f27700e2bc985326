"""Visits: the hospital's encounters (with their diagnosis codes), the patients' conditions and appointments, as
facts for the analytics schema's visits, follow-up and revisit views (engine/access/analytics_1_visits.sql)."""
