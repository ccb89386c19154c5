"""Organisational life (issue 6): rules, services and reads for meetings."""
