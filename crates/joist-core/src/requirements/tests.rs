//! Unit tests for the requirement algebra, one group per rule of spec core §1.5.
