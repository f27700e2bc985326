"""Least privilege and accountability in PostgreSQL: the tables created by the owner (tables.py), the group roles
with their grants, row-level security and the analysts' schema (roles.sql, roles.py), and the audit trail of reads
of patient data (audit.sql, audit.py). docs/access.md lists the roles and what each may do."""
