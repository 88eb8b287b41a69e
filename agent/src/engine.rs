//! The one pipeline: segments in, flow records and findings out.
