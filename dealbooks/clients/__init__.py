"""dealbooks.clients."""
