"""Draws: the verifiable random selection of entities and matching of inspectors (suiji-draw-v1)."""
