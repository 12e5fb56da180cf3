"""Aggregates: the contract, the state machine workflow, and reconcile."""
