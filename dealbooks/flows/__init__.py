"""dealbooks.flows."""
