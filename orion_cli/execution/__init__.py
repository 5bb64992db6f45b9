"""Turning a plan into two filled legs: the executor, its order state machine and the unwind."""
