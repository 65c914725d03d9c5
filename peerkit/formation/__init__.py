"""Formations: many peers configured together (formation.yaml), run by ``peerkit up``."""
