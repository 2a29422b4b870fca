"""The support agents' review page: one static HTML page, its script and its stylesheet."""
