"""dealbooks.sandbox."""
