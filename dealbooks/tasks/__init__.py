"""dealbooks.tasks."""
