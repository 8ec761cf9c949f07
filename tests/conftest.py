collect_ignore = ["sample_project"]  # a user's project, run by tests/test_install.py
