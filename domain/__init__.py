"""Pure rules shared by workflows, activities and the web app: no I/O, no Temporal, no SQLAlchemy.

Lead schedule and clock (seed 004), slot routing (seed 001), the inquiry manager's exceptions (seed 002),
automation matching (seed 003), signed links. Functions of their inputs, so they are tested exhaustively
and a workflow may call them during replay. Only workflow contracts (workflows/*_models.py) are imported.
"""
