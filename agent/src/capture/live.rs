//! Live capture: loads the TC programs, reads the ring buffer, polls flow counters.
