"""xenpool_driver: keep host aggregates and XenServer / XCP-ng resource pools in step."""
