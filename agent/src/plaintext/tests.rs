//! Unit tests for the plaintext recognisers.
