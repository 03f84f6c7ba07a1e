"""Pure clinical logic: protocols, offsets, local time, day N, checklist, today, plan.

Nothing in this package imports Flask or SQLAlchemy or reads the clock: time and
time zone are always arguments, so every rule is tested without an app.
"""
