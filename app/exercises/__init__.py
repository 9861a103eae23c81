"""Exercises with checked answers: the schema chapters write, the checker, attempts stored per learner."""
