"""Calendar campaigns: who each season of a calendar journey reached, entered, booked and attended, per visit."""
