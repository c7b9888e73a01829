"""Test support shared by the packages' tests and the benchmarks: ROS graph helpers (nodes.py)
and a real browser on the console's page (browser.py). Never a run-time dependency."""
