"""Data for the benchmarks: the digits model space and its tabular benchmark (digits_table.json)."""
