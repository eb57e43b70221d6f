"""Blueprints: public (notices, registration), manage (a unit's private pages)."""
