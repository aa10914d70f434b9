"""bench/benchlib — the parts of bench/run (see its docstring for the whole):
config (paths, environment knobs, constants), servers (atto, nginx, h2o and
their processes), tools (the load tools and their output), workloads (the
rows of the table) and report (aggregation, ratios, table, results.md).
"""
