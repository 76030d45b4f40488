"""Key Custodian Workstation."""
