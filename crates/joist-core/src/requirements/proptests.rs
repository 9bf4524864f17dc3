//! Property tests of the requirement algebra laws.
