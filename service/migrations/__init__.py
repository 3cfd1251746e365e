"""Alembic migrations of the decision log; run with ``rehab-rules db upgrade``."""
