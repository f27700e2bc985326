"""One row per journey instance: where it is, when it next moves, how it ended."""
