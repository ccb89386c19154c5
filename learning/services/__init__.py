"""Writes of study: progress, completion, offline hours, reviews, imports."""
