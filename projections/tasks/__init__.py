"""Human tasks the journeys created: calls, rebookings, assessments, with their SLA."""
