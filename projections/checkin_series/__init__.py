"""Check-in series: the values each check-in step recorded, the asks missed, and the alerts they raised."""
