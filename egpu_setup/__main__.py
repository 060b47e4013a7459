from egpu_setup.cli import entry_point

entry_point()
