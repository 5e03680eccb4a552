"""When a number moves: change points in KPI series, the change events and slices that explain
them, and what drifted in the data. Pure functions over Arrow tables and NumPy arrays; the
registered analyzers and the CLI wrap them."""

__all__: list[str] = []
