"""The synthetic hospital and the stepped-clock driver behind `careloop demo`."""
