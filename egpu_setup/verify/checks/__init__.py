"""The checks, one module per family; each check is `def check_x(state: SuiteState) -> Check`."""
