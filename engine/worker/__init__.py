"""The faust worker: clinical events and timer ticks in, patient aggregates and timers out."""
