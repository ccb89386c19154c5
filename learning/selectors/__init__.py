"""Reads of study: courses, hours against targets, review cards, retention."""
