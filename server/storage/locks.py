"""PostgreSQL advisory-lock keys: every key the sidecar takes, in one place.

The trigger and function SQL (`server/storage/sql/postgresql/*.sql`, and the migrations' frozen
copies) spells `ACTIVE_DAYS` as a literal, since PL/pgSQL cannot import it;
`tests/storage/test_schema_dump.py` checks that every key written in the SQL is one of these.
"""

from __future__ import annotations

MIGRATE = 7_306_152_011  # instances starting together migrate one at a time
# The day tables (`active_user_days`, `active_day_counts`, `active_user_day_deltas`): their
# writers (the triggers, the folds) take it shared, a rebuild (a new zone, a TRUNCATE) exclusive.
ACTIVE_DAYS = 7_306_152_012
FOLD = 7_306_152_013  # one folder of delta rows at a time

ALL = {"MIGRATE": MIGRATE, "ACTIVE_DAYS": ACTIVE_DAYS, "FOLD": FOLD}
