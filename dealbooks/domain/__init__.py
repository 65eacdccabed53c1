"""dealbooks.domain."""
