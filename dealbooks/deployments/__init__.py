"""dealbooks.deployments."""
