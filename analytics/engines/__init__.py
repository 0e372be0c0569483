"""The same report inside an engine: DuckDB (embedded, larger than memory) or Spark (a cluster).

`open_engine(name)` gives an `Engine`; its tables are registered from files, globs, folders, a Spark
table or a pandas frame, the mapping and the checks run inside it, `Engine.episodes` holds the
episode rules (analytics/engines/rules.py: SQL written once, transpiled for Spark by sqlglot), and
only aggregates come back to the numeric core. See docs/engines.md."""

from analytics.engines.engine import ENGINES, DuckDBEngine, Engine, SparkEngine, open_engine
